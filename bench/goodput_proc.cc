#include "goodput_proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "launcher_process.h"

extern char** environ;

namespace bench {
namespace {

namespace fs = std::filesystem;

// Every process's parent (zombies left out).
std::map<pid_t, pid_t> Parents() {
  std::map<pid_t, pid_t> parents;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return parents;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    pid_t parent = 0;
    char state = '?';
    if (ReadParent(static_cast<pid_t>(pid), &parent, &state) && state != 'Z') {
      parents[static_cast<pid_t>(pid)] = parent;
    }
  }
  ::closedir(proc);
  return parents;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

void OutputLog::Add(OutputLine line) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(line));
  }
  changed_.notify_all();
}

std::optional<std::size_t> OutputLog::WaitFor(const std::function<bool(const OutputLine&)>& match,
                                              std::chrono::milliseconds limit, std::size_t from) {
  const auto until = GoodputClock::now() + limit;
  std::unique_lock<std::mutex> lock(mu_);
  for (std::size_t next = from;;) {
    for (; next < lines_.size(); ++next) {
      if (match(lines_[next])) return next;
    }
    if (changed_.wait_until(lock, until) == std::cv_status::timeout && next == lines_.size()) {
      return std::nullopt;
    }
  }
}

std::vector<OutputLine> OutputLog::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

std::string OutputLog::Tail(std::size_t count) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string text;
  for (std::size_t i = lines_.size() > count ? lines_.size() - count : 0; i < lines_.size(); ++i) {
    text += "  " + lines_[i].source + ": " + lines_[i].text + "\n";
  }
  return text;
}

Child::Child(std::string name, std::vector<std::string> argv, std::string log_path, OutputLog* log)
    : name_(std::move(name)), argv_(std::move(argv)), log_path_(std::move(log_path)), log_(log) {}

Child::~Child() {
  if (pid_ > 0 && !code_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  stop_ = true;
  if (reader_.joinable()) reader_.join();
}

train::Status Child::Start() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return train::FailedPreconditionError(std::string("pipe2: ") + std::strerror(errno));
  }
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_init(&actions);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);

  // This environment without the launcher's variables (they would tell the agent who it is).
  std::vector<std::string> vars;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string var(*entry);
    if (var.rfind("TRAIN_", 0) == 0 || var.rfind("OMPI_", 0) == 0) continue;
    vars.push_back(var);
  }
  std::vector<char*> argv, envp;
  for (std::string& arg : argv_) argv.push_back(arg.data());
  argv.push_back(nullptr);
  for (std::string& var : vars) envp.push_back(var.data());
  envp.push_back(nullptr);
  const int error = posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (error != 0) {
    ::close(fds[0]);
    pid_ = -1;
    return train::FailedPreconditionError("cannot start " + argv_[0] + ": " + std::strerror(error));
  }
  reader_ = std::thread([this, fd = fds[0]] { Read(fd); });
  return train::Status::Ok();
}

void Child::Read(int fd) {
  std::ofstream file(log_path_, std::ios::app);
  std::string pending;
  char buffer[8192];
  while (!stop_) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const auto at = GoodputClock::now();
    const long long realtime = RealtimeNanos();
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
      std::string text = pending.substr(0, end);
      pending.erase(0, end + 1);
      char stamp[32];  // when it arrived: CLOCK_REALTIME seconds
      std::snprintf(stamp, sizeof(stamp), "%lld.%06lld ", realtime / 1000000000LL,
                    realtime % 1000000000LL / 1000);
      file << stamp << text << '\n';
      log_->Add({at, realtime, name_, std::move(text)});
    }
    file.flush();
  }
  ::close(fd);
}

void Child::Signal(int signal) const {
  if (pid_ > 0 && !code_) ::kill(pid_, signal);
}

std::optional<int> Child::Wait(std::chrono::milliseconds limit) {
  for (const auto until = GoodputClock::now() + limit; !code_ && pid_ > 0;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      code_ = ExitCode(status);
      break;
    }
    if (GoodputClock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return code_;
}

pid_t FindDescendant(pid_t ancestor, const std::string& exe) {
  std::error_code error;
  const fs::path want = fs::canonical(exe, error);
  const std::map<pid_t, pid_t> parents = Parents();
  for (const auto& [pid, parent] : parents) {
    // Is `ancestor` above pid?
    bool below = false;
    for (pid_t up = parent; up > 1 && !below;) {
      below = up == ancestor;
      const auto it = parents.find(up);
      up = it == parents.end() ? 0 : it->second;
    }
    if (!below) continue;
    const fs::path image = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", error);
    if (!error && image == want) return pid;
  }
  return -1;
}

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace bench
