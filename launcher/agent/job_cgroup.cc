#include "job_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>
#include <vector>

namespace trainctl::agent::process_internal {
namespace {

using std::chrono::milliseconds;

// Reads a small file whole; "" when it cannot be read.
std::string ReadSmallFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  std::string text;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

bool WriteSmallFile(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() && WriteAll(fd.get(), text) == 0;
}

// The cgroups directly below `dir`.
std::vector<std::string> ChildCgroups(const std::string& dir) {
  std::vector<std::string> children;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return children;
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    // Interface files are regular files; every directory is a child cgroup.
    struct stat st {};
    if (::fstatat(::dirfd(d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
      children.push_back(dir + "/" + name);
    }
  }
  ::closedir(d);
  return children;
}

// SIGKILLs the processes cgroup.procs lists in `dir` and below; returns how many it found.
int KillListed(const std::string& dir, train::internal::OsEnv* env) {
  int found = 0;
  std::istringstream procs(ReadSmallFile(dir + "/cgroup.procs"));
  for (long pid; procs >> pid;) {
    if (pid > 0 && env->Kill(static_cast<pid_t>(pid), SIGKILL) == 0) ++found;
  }
  for (const std::string& child : ChildCgroups(dir)) found += KillListed(child, env);
  return found;
}

bool Populated(const std::string& dir) {
  std::string events = ReadSmallFile(dir + "/cgroup.events");
  if (events.empty()) return false;  // gone
  return events.find("populated 1") != std::string::npos;
}

}  // namespace

train::Result<std::string> OwnCgroupDir() {
  std::string mount_point;
  std::string mount_root;
  std::istringstream mounts(ReadSmallFile("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);) {
    // "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS"
    std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fs_type;
    tail >> fs_type;
    if (fs_type != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, device;
    head >> id >> parent >> device >> mount_root >> mount_point;
    break;
  }
  if (mount_point.empty()) {
    return train::NotFoundError("no cgroup v2 hierarchy is mounted (/proc/self/mountinfo)");
  }
  std::string path;
  std::istringstream cgroups(ReadSmallFile("/proc/self/cgroup"));
  for (std::string line; std::getline(cgroups, line);) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  }
  if (path.empty()) {
    return train::NotFoundError("this process has no cgroup v2 entry in /proc/self/cgroup");
  }
  // A mount of a subtree (ROOT other than "/") shows paths below ROOT only.
  if (mount_root != "/" && path.rfind(mount_root, 0) == 0) path = path.substr(mount_root.size());
  if (path == "/") path.clear();
  return mount_point + path;
}

train::Result<std::string> CreateCgroup(const std::string& parent, const std::string& name) {
  const std::string dir = parent + "/" + name;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return train::PermissionDeniedError(ErrnoMessage("cannot create cgroup " + dir, errno));
  }
  for (const std::string& procs : {dir + "/cgroup.procs", parent + "/cgroup.procs"}) {
    if (::access(procs.c_str(), W_OK) != 0) {
      int err = errno;
      (void)::rmdir(dir.c_str());
      return train::PermissionDeniedError(
          ErrnoMessage("cannot move processes into cgroup " + dir + " (" + procs + ")", err));
    }
  }
  return dir;
}

train::Result<UniqueFd> OpenCgroupDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return train::InternalError(ErrnoMessage("cannot open cgroup " + dir, errno));
  return AboveStandardStreams(std::move(fd));
}

void KillCgroup(const std::string& dir, train::internal::OsEnv* env) {
  // An empty cgroup stays empty (nobody is left in it to fork); skipping it spares a write to
  // cgroup.kill, which takes milliseconds: most workers leave nothing behind.
  if (!Populated(dir)) return;
  if (WriteSmallFile(dir + "/cgroup.kill", "1")) return;
  // Without cgroup.kill a process may fork while its siblings are killed: repeat until a pass
  // finds nobody (bounded: a fork bomb faster than kill(2) is not stopped here).
  for (int pass = 0; pass < 100 && KillListed(dir, env) > 0; ++pass) {
  }
}

bool WaitCgroupEmpty(const std::string& dir, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Populated(dir)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

bool RemoveCgroup(const std::string& dir) {
  bool removed = true;
  for (const std::string& child : ChildCgroups(dir)) removed = RemoveCgroup(child) && removed;
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) removed = false;
  return removed;
}

}  // namespace trainctl::agent::process_internal
