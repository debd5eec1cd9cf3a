#include "launcher_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often the launcher's VmHWM is sampled; its peak comes after it spawned its workers and
// lasts, so a coarse tick suffices and steals little CPU from what is measured.
constexpr milliseconds kSampleTick{10};
// After SIGTERM on timeout, how long the launcher may take to stop its workers.
constexpr milliseconds kTermGrace{3000};

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// The "VmHWM:" line of /proc/<pid>/status in KiB, or -1 (gone, or a zombie).
long ReadVmHwm(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

int ShellCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Owns posix_spawn's attribute and file-action objects.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

train::Result<pid_t> Spawn(const LaunchSpec& spec) {
  SpawnSetup setup;
  // Its own process group (so that a timeout can stop it and whatever it started in its
  // group), no blocked signals, and default dispositions, as a shell would start it.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&setup.actions, 1, spec.log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&setup.actions, 1, 2);
  posix_spawn_file_actions_addchdir_np(&setup.actions, spec.working_dir.c_str());

  std::vector<char*> argv, envp;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> vars;
  for (const auto& [name, value] : spec.env) vars.push_back(name + "=" + value);
  for (std::string& var : vars) envp.push_back(var.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int error =
      posix_spawn(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
  if (error != 0) {
    return train::FailedPreconditionError("cannot start " + spec.argv[0] + ": " +
                                          std::strerror(error));
  }
  return pid;
}

}  // namespace

bool ReadParent(pid_t pid, pid_t* parent, char* state) {
  std::string text;
  try {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    text.assign(std::istreambuf_iterator<char>(stat), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return false;  // it exited while it was read (ESRCH)
  }
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 1));
  long ppid = 0;
  if (!(rest >> *state >> ppid)) return false;
  *parent = static_cast<pid_t>(ppid);
  return true;
}

int KillOrphans() {
  int running = 0;
  const pid_t self = ::getpid();
  for (bool found = true; found;) {
    found = false;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return running;
    std::vector<pid_t> children;
    while (dirent* entry = ::readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (end == entry->d_name || *end != '\0') continue;
      pid_t parent = 0;
      char state = '?';
      if (!ReadParent(static_cast<pid_t>(pid), &parent, &state) || parent != self) continue;
      if (state != 'Z') ++running;
      children.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(proc);
    for (pid_t child : children) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      found = true;  // its own children are ours now: look again
    }
  }
  return running;
}

long long RealtimeNanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

train::Status BecomeSubreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return train::FailedPreconditionError(Errno("prctl(PR_SET_CHILD_SUBREAPER)"));
  }
  return train::Status::Ok();
}

train::Result<LaunchResult> RunLauncher(const LaunchSpec& spec) {
  if (spec.argv.empty()) return train::InvalidArgumentError("RunLauncher: empty argv");
  LaunchResult result;
  result.start_ns = RealtimeNanos();
  const auto started = Clock::now();
  TRAIN_ASSIGN_OR_RETURN(pid_t pid, Spawn(spec));
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    KillOrphans();
    return train::FailedPreconditionError(Errno("pidfd_open"));
  }
  const auto deadline = started + spec.timeout;
  std::optional<Clock::time_point> kill_at;
  while (true) {
    pollfd fd{pidfd, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(kSampleTick.count())) > 0) break;
    if (long hwm = ReadVmHwm(pid); hwm > 0) result.peak_rss_kib = hwm;
    const auto now = Clock::now();
    if (!kill_at && now >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + kTermGrace;
    } else if (kill_at && now >= *kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = now + std::chrono::hours(1);
    }
  }
  ::close(pidfd);
  int status = 0;
  rusage usage{};
  if (::wait4(pid, &status, 0, &usage) != pid) return train::InternalError(Errno("wait4"));
  result.wall_s = std::chrono::duration<double>(Clock::now() - started).count();
  result.exit_code = ShellCode(status);
  result.wait4_rss_kib = usage.ru_maxrss;
  result.leftovers = KillOrphans();
  return result;
}

}  // namespace bench
