#include "pod_sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace pod_sandbox {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kTagPrefix[] = "k8p";
constexpr std::size_t kTagSize = 9;  // "k8p" and the test process's pid in 6 hex digits

std::string Tag(pid_t pid) {
  char text[16];
  std::snprintf(text, sizeof(text), "%s%06x", kTagPrefix, static_cast<unsigned>(pid) & 0xffffffu);
  return text;
}

// Whether `name` was made by a test process that is gone (killed before its cleanup ran).
bool Orphaned(const std::string& name) {
  if (name.size() < kTagSize || name.rfind(kTagPrefix, 0) != 0) return false;
  const std::string digits = name.substr(3, 6);  // strtol's `end` points into it
  char* end = nullptr;
  const long pid = std::strtol(digits.c_str(), &end, 16);
  return *end == '\0' && pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Removes the namespaces and links that killed runs of this test left behind.
void RemoveOrphans() {
  std::istringstream namespaces(RunCommand("ip netns list").output);
  for (std::string line; std::getline(namespaces, line);) {
    const std::string name = line.substr(0, line.find(' '));
    if (!Orphaned(name)) continue;
    std::istringstream pids(RunCommand("ip netns pids " + name).output);
    for (long pid = 0; pids >> pid;) kill(static_cast<pid_t>(pid), SIGKILL);
    (void)RunCommand("ip netns del " + name);
    std::error_code ignored;
    fs::remove_all("/etc/netns/" + name, ignored);
  }
  std::istringstream links(RunCommand("ip -o link show").output);
  for (std::string line; std::getline(links, line);) {
    const auto start = line.find(": ");
    if (start == std::string::npos) continue;
    std::string name = line.substr(start + 2);
    name = name.substr(0, name.find_first_of(":@"));
    if (Orphaned(name)) (void)RunCommand("ip link del " + name);
  }
}

// The parent pid of `pid` from /proc, or -1.
pid_t ParentOf(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  char state = 0;
  pid_t parent = -1;
  rest >> state >> parent;
  return parent;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (*end == '\0' && pid > 0) pids.push_back(static_cast<pid_t>(pid));
    }
    closedir(proc);
  }
  return pids;
}

}  // namespace

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof(buffer), pipe)) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

PodCluster::PodCluster(Mode mode, std::string tag) : mode_(mode), tag_(std::move(tag)) {}

std::unique_ptr<PodCluster> PodCluster::Create(std::string* why_not) {
  const std::string tag = Tag(getpid());
  // The pods mount their spec and token under /etc/trainctl, as the rendered Job does.
  std::error_code error;
  fs::create_directory("/etc/trainctl", error);
  std::string netns_problem;
  const char* force = std::getenv("K8S_PODS_FORCE_LOOPBACK");
  if (force != nullptr && std::string(force) == "1") {
    netns_problem = "K8S_PODS_FORCE_LOOPBACK=1";
  } else {
    RemoveOrphans();
    const std::string bridge = tag + "br";
    CommandResult made =
        RunCommand("ip link add " + bridge + " type bridge && ip link set " + bridge + " up");
    if (made.status == 0) {
      std::unique_ptr<PodCluster> cluster(new PodCluster(Mode::kNetworkNamespaces, tag));
      cluster->bridge_ = bridge;
      return cluster;
    }
    netns_problem = "cannot create a bridge for network namespaces: " + made.output;
    (void)RunCommand("ip link del " + bridge);
  }
  // Loopback aliases: the pods share the host's network; a mount namespace gives each its own
  // /etc/hosts (as root, or as root of a user namespace).
  const bool root = geteuid() == 0;
  const std::string unshare = root ? "unshare --mount" : "unshare --user --map-root-user --mount";
  CommandResult probe = RunCommand(unshare + " true");
  if (probe.status != 0 || !fs::is_directory("/etc/trainctl")) {
    *why_not = "neither network namespaces (" + netns_problem + ") nor mount namespaces (" +
               probe.output + ") are available" +
               (fs::is_directory("/etc/trainctl") ? "" : ", and /etc/trainctl cannot be created");
    return nullptr;
  }
  std::unique_ptr<PodCluster> cluster(new PodCluster(Mode::kLoopbackAliases, tag));
  std::string pattern = (fs::temp_directory_path() / ("k8s-pods-hosts-XXXXXX")).string();
  cluster->scratch_ = mkdtemp(pattern.data());
  return cluster;
}

PodCluster::~PodCluster() {
  std::vector<std::string> names;
  for (const auto& [name, sandbox] : sandboxes_) names.push_back(name);
  for (const std::string& name : names) Remove(name);
  if (!bridge_.empty()) (void)RunCommand("ip link del " + bridge_);
  if (!scratch_.empty()) {
    std::error_code ignored;
    fs::remove_all(scratch_, ignored);
  }
  // Empty on the host (the pods mount over it in their own mount namespaces). Removed unless
  // another run's pods may still mount over it; an empty one a killed run left goes too.
  if (RunCommand("ip netns list").output.find(kTagPrefix) == std::string::npos) {
    ::rmdir("/etc/trainctl");
  }
}

std::string PodCluster::ModeDescription() const {
  if (mode_ == Mode::kNetworkNamespaces) {
    return "pods in network namespaces " + tag_ + "-* on bridge " + bridge_ + " (10.200.0.0/24)";
  }
  return "network namespaces are not available here: pods use loopback aliases (127.0.0.x) "
         "with their own /etc/hosts (mount namespaces)";
}

std::string PodCluster::AddSandbox(const std::string& name) {
  Sandbox sandbox;
  const int host = next_host_++;
  if (mode_ == Mode::kNetworkNamespaces) {
    sandbox.address = "10.200.0." + std::to_string(host);
    const std::string ns = tag_ + "-" + name, veth = tag_ + "v" + std::to_string(host);
    const std::string dir = "/etc/netns/" + ns;
    fs::create_directories(dir);
    sandbox.hosts_file = dir + "/hosts";
    sandbox.veth = veth;
    sandboxes_[name] = sandbox;  // registered first: the destructor removes a half-made one
    WriteHosts(sandbox);
    CommandResult made = RunCommand(
        "set -e; ip netns add " + ns + "; ip link add " + veth +
        " type veth peer name eth0 netns " + ns + "; ip link set " + veth + " master " + bridge_ +
        "; ip link set " + veth + " up; ip -n " + ns + " addr add " + sandbox.address +
        "/24 dev eth0; ip -n " + ns + " link set eth0 up; ip -n " + ns + " link set lo up");
    if (made.status != 0) {
      std::fprintf(stderr, "cannot make pod sandbox %s: %s\n", ns.c_str(), made.output.c_str());
    }
  } else {
    sandbox.address = "127.0.0." + std::to_string(host);
    sandbox.hosts_file = scratch_ + "/hosts-" + name;
    sandboxes_[name] = sandbox;
    WriteHosts(sandbox);
  }
  return sandbox.address;
}

void PodCluster::WriteHosts(const Sandbox& sandbox) {
  // In place (same inode): the file is bind-mounted over /etc/hosts in running pods.
  std::ofstream out(sandbox.hosts_file, std::ios::trunc);
  out << "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& [name, address] : dns_) out << address << "\t" << name << "\n";
}

void PodCluster::SetDns(const std::map<std::string, std::string>& records) {
  dns_ = records;
  for (const auto& [name, sandbox] : sandboxes_) WriteHosts(sandbox);
}

pid_t PodCluster::Start(const std::string& name, const std::string& hostname,
                        const std::string& script, const std::string& log) {
  Sandbox& sandbox = sandboxes_.at(name);
  // What a pod has of its own besides the network: hostname, IPC, /dev/shm (an emptyDir of
  // medium Memory) and /run.
  const std::string pod_setup = "hostname " + hostname +
                                " && mount -t tmpfs -o size=256m shm /dev/shm"
                                " && mount -t tmpfs -o size=64m run /run && ";
  std::vector<std::string> argv;
  if (mode_ == Mode::kNetworkNamespaces) {
    argv = {"ip", "netns",   "exec", tag_ + "-" + name, "unshare", "--uts", "--ipc",
            "--", "/bin/sh", "-c",   pod_setup + script};
  } else {
    if (geteuid() == 0) {
      argv = {"unshare", "--mount", "--uts", "--ipc", "--"};
    } else {
      argv = {"unshare", "--user", "--map-root-user", "--mount", "--uts", "--ipc", "--"};
    }
    argv.emplace_back("/bin/sh");
    argv.emplace_back("-c");
    argv.push_back("mount --bind " + sandbox.hosts_file + " /etc/hosts && " + pod_setup + script);
  }
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dup2(null, 0);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  sandbox.roots.push_back(pid);
  return pid;
}

std::vector<pid_t> PodCluster::Processes(const Sandbox& sandbox, const std::string& name) const {
  std::vector<pid_t> found;
  if (mode_ == Mode::kNetworkNamespaces) {
    std::istringstream pids(RunCommand("ip netns pids " + tag_ + "-" + name).output);
    for (long pid = 0; pids >> pid;) found.push_back(static_cast<pid_t>(pid));
    return found;
  }
  // Loopback mode: the started processes and all their descendants.
  std::set<pid_t> tree;
  for (pid_t root : sandbox.roots) {
    if (exited_.count(root) == 0) tree.insert(root);
  }
  bool grew = true;
  const std::vector<pid_t> all = AllPids();
  while (grew) {
    grew = false;
    for (pid_t pid : all) {
      if (tree.count(pid) == 0 && tree.count(ParentOf(pid)) != 0) grew = tree.insert(pid).second;
    }
  }
  found.assign(tree.begin(), tree.end());
  return found;
}

void PodCluster::KillAll(const std::string& name) {
  Sandbox& sandbox = sandboxes_.at(name);
  for (int attempt = 0; attempt < 200; ++attempt) {
    for (pid_t root : sandbox.roots) (void)Wait(root, 0ms);  // reap what died
    std::vector<pid_t> pids = Processes(sandbox, name);
    if (pids.empty()) break;
    // Stopped first, so that no process of the pod outlives its parent and escapes the scan.
    for (pid_t pid : pids) kill(pid, SIGSTOP);
    for (pid_t pid : pids) kill(pid, SIGKILL);
    std::this_thread::sleep_for(20ms);
  }
  for (pid_t root : sandbox.roots) (void)Wait(root, 2s);
}

void PodCluster::Remove(const std::string& name) {
  if (sandboxes_.count(name) == 0) return;
  KillAll(name);
  if (mode_ == Mode::kNetworkNamespaces) {
    const std::string ns = tag_ + "-" + name;
    (void)RunCommand("ip netns del " + ns);
    // The namespace may outlive its name a while (the kernel frees it later): delete the
    // link now rather than leave it to that.
    (void)RunCommand("ip link del " + sandboxes_.at(name).veth);
    std::error_code ignored;
    fs::remove_all("/etc/netns/" + ns, ignored);
    ::rmdir("/etc/netns");  // only when no other namespace has files there
  }
  sandboxes_.erase(name);
}

std::optional<int> PodCluster::Wait(pid_t pid, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto known = exited_.find(pid);
    if (known != exited_.end()) return known->second;
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      exited_[pid] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      continue;
    }
    if (done < 0) return std::nullopt;  // not our child (or already reaped elsewhere)
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace pod_sandbox
