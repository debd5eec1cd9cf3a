#include "process_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "process_tree.h"
#include "train/log.h"

namespace trainctl::agent::process_internal {
namespace {

// How far the child got when it failed, sent to the parent through the report pipe.
// kCgroup is a warning: the child goes on without its cgroup.
enum class ChildStage : int { kSetup = 1, kChdir = 2, kExec = 3, kCgroup = 4 };
struct ChildReport {
  int stage = 0;
  int err = 0;
};
constexpr int kChildFailureExit = 127;  // what a shell uses for "command not found"

// Strings plus the null-terminated pointer array exec wants, built before fork.
class CStringArray {
 public:
  explicit CStringArray(std::vector<std::string> strings) : strings_(std::move(strings)) {
    for (std::string& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;
  char* const* data() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// Everything the child needs. Between fork and exec the child may only make async-signal-safe
// calls (another thread may have held the allocator's lock at fork), so nothing is computed
// there.
struct ChildPlan {
  pid_t parent_pid = 0;
  const char* working_dir = nullptr;  // nullptr: stay where the parent is
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  char* const* candidates = nullptr;  // full paths to try, in order
  int stdin_fd = -1;
  int output_fd = -1;
  int report_fd = -1;
  int cgroup_fd = -1;  // the worker's cgroup directory, or -1
  int max_fd = 0;      // bound of the close() loop when close_range(2) is missing
};

// Where execvp would look for `program`, but in the worker's PATH rather than trainctl's.
std::vector<std::string> SearchList(const std::string& program, const std::string& path) {
  std::vector<std::string> candidates;
  std::size_t start = 0;
  while (true) {
    std::size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    candidates.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return candidates;
}

void Report(int report_fd, ChildStage stage, int err) {
  ChildReport report{static_cast<int>(stage), err};
  ssize_t ignored = ::write(report_fd, &report, sizeof(report));
  (void)ignored;
}

[[noreturn]] void Fail(int report_fd, ChildStage stage, int err) {
  // If the parent cannot be told, the exit code still says that the start failed.
  Report(report_fd, stage, err);
  ::_exit(kChildFailureExit);
}

void CloseOtherFds(int keep, int max_fd) {
  // Descriptors that libraries opened without O_CLOEXEC must not reach the worker.
  unsigned first = 3;
  unsigned kept = static_cast<unsigned>(keep);
  if ((kept == first || ::close_range(first, kept - 1, 0) == 0) &&
      ::close_range(kept + 1, ~0U, 0) == 0) {
    return;
  }
  for (int fd = 3; fd < max_fd; ++fd) {
    if (fd != keep) (void)::close(fd);  // EBADF for most: there is nothing to close
  }
}

// The child, from fork to exec (`in_cgroup`: it was cloned into plan.cgroup_fd). Async-signal-
// safe calls only.
[[noreturn]] void RunChild(const ChildPlan& plan, bool in_cgroup) {
  // First of all, so that nothing this child will ever start is outside the cgroup.
  if (plan.cgroup_fd >= 0 && !in_cgroup) {
    int procs = ::openat(plan.cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (procs < 0 || ::write(procs, "0", 1) != 1) {
      Report(plan.report_fd, ChildStage::kCgroup, errno);
    }
    if (procs >= 0) (void)::close(procs);
  }
  // A session of its own (so also a process group): what it forks stays findable by session
  // (/proc/PID/stat) unless it calls setsid itself, and a signal to the group reaches it.
  if (::setsid() < 0) Fail(plan.report_fd, ChildStage::kSetup, errno);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) Fail(plan.report_fd, ChildStage::kSetup, errno);
  // The parent may have died before prctl took effect; then nobody would kill this child.
  if (::getppid() != plan.parent_pid) ::_exit(kChildFailureExit);

  // Handlers are reset by exec anyway, but "ignored" is inherited: a worker must not start
  // with SIGPIPE or SIGINT ignored because trainctl ignores them.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)::sigaction(sig, &default_action, nullptr);  // EINVAL for the libc-reserved ones
  }
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) {
    Fail(plan.report_fd, ChildStage::kSetup, errno);
  }

  if (plan.working_dir != nullptr && ::chdir(plan.working_dir) != 0) {
    Fail(plan.report_fd, ChildStage::kChdir, errno);
  }
  if (::dup2(plan.stdin_fd, STDIN_FILENO) < 0 || ::dup2(plan.output_fd, STDOUT_FILENO) < 0 ||
      ::dup2(plan.output_fd, STDERR_FILENO) < 0) {
    Fail(plan.report_fd, ChildStage::kSetup, errno);
  }
  CloseOtherFds(plan.report_fd, plan.max_fd);

  // execvp's rules: keep searching past a missing or inaccessible entry, and report EACCES
  // when some entry existed but could not be run.
  int err = ENOENT;
  bool denied = false;
  for (char* const* path = plan.candidates; *path != nullptr; ++path) {
    ::execve(*path, plan.argv, plan.envp);
    err = errno;
    if (err == EACCES) {
      denied = true;
    } else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
               err != ETIMEDOUT) {
      break;
    }
  }
  if (denied && (err == ENOENT || err == ENOTDIR)) err = EACCES;
  Fail(plan.report_fd, ChildStage::kExec, err);
}

train::Status StartError(const std::string& who, const WorkerSpec& spec, bool searched,
                         const std::string& search_path, const ChildReport& report) {
  const std::string& program = spec.argv[0];
  switch (static_cast<ChildStage>(report.stage)) {
    case ChildStage::kChdir:
      return train::NotFoundError(ErrnoMessage(who + ": cannot change to the working directory \"" +
                                                   spec.working_dir + "\"",
                                               report.err) +
                                  "; create it or fix the worker's working directory");
    case ChildStage::kExec: {
      std::string message = ErrnoMessage(who + ": cannot execute \"" + program + "\"", report.err);
      if (searched) message += " (searched PATH \"" + search_path + "\")";
      switch (report.err) {
        case ENOENT:
        case ENOTDIR:
          return train::NotFoundError(message + "; install it or give its full path as argv[0]");
        case EACCES:
          return train::PermissionDeniedError(message +
                                              "; check that it is a file with execute permission");
        case ENOEXEC:
          return train::FailedPreconditionError(message + "; a script needs a \"#!\" first line");
        default:
          return train::FailedPreconditionError(message);
      }
    }
    case ChildStage::kSetup:
    case ChildStage::kCgroup:
      break;
  }
  return train::InternalError(
      ErrnoMessage(who + ": setting up the process for \"" + program + "\" failed", report.err));
}

int FdLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
      limit.rlim_cur > static_cast<rlim_t>(INT_MAX)) {
    return 65536;
  }
  return static_cast<int>(limit.rlim_cur);
}

// clone3's arguments (struct clone_args of linux/sched.h, version 2: with `cgroup`).
struct CloneArgs {
  std::uint64_t flags = 0;
  std::uint64_t pidfd = 0;
  std::uint64_t child_tid = 0;
  std::uint64_t parent_tid = 0;
  std::uint64_t exit_signal = 0;
  std::uint64_t stack = 0;
  std::uint64_t stack_size = 0;
  std::uint64_t tls = 0;
  std::uint64_t set_tid = 0;
  std::uint64_t set_tid_size = 0;
  std::uint64_t cgroup = 0;
};
constexpr std::uint64_t kCloneIntoCgroup = 0x200000000ULL;  // CLONE_INTO_CGROUP, Linux 5.7

// fork(), but with `cgroup_fd` (>= 0) the child starts in that cgroup: moving it there later by
// writing cgroup.procs waits for an RCU grace period, which on a busy machine costs from a few
// to over a hundred milliseconds per worker. *in_cgroup says whether it did (in both processes).
pid_t ForkInto(int cgroup_fd, bool* in_cgroup) {
  *in_cgroup = false;
  if (cgroup_fd >= 0) {
    CloneArgs args;
    args.flags = kCloneIntoCgroup;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
    long pid = ::syscall(SYS_clone3, &args, sizeof(args));
    if (pid >= 0) {
      *in_cgroup = true;
      return static_cast<pid_t>(pid);
    }
    if (errno == EAGAIN || errno == ENOMEM) return -1;
    // ENOSYS, E2BIG, EINVAL (an older kernel), EACCES...: fork; the child joins on its own.
  }
  return ::fork();
}

void Reap(pid_t pid, int* status) {
  while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
  UnregisterOwnChild(pid);
  ReportSession(-pid);
}

}  // namespace

train::Result<SpawnedProcess> SpawnWorker(const WorkerSpec& spec, int stdin_fd, int cgroup_fd) {
  std::string who = "cannot start rank " + std::to_string(spec.rank);
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return train::InvalidArgumentError(who + ": the command is empty; give the program as argv[0]");
  }
  const std::string& program = spec.argv[0];
  auto path_var = spec.env.find("PATH");
  std::string search_path =
      path_var != spec.env.end() ? path_var->second : std::string(kDefaultPath);
  bool searched = program.find('/') == std::string::npos;

  CStringArray candidates(searched ? SearchList(program, search_path)
                                   : std::vector<std::string>{program});
  CStringArray argv(spec.argv);
  std::vector<std::string> env_strings;
  env_strings.reserve(spec.env.size());
  for (const auto& [name, value] : spec.env) env_strings.push_back(name + "=" + value);
  CStringArray envp(std::move(env_strings));

  TRAIN_ASSIGN_OR_RETURN(Pipe output, MakePipe());
  TRAIN_ASSIGN_OR_RETURN(Pipe report, MakePipe());
  ChildPlan plan;
  plan.parent_pid = ::getpid();
  plan.working_dir = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.candidates = candidates.data();
  plan.stdin_fd = stdin_fd;
  plan.output_fd = output.write.get();
  plan.report_fd = report.write.get();
  plan.cgroup_fd = cgroup_fd;
  plan.max_fd = FdLimit();

  pid_t pid;
  bool in_cgroup = false;
  {
    // Registered before anyone can reap it as an orphan; the child never touches the lock.
    auto lock = LockOwnChildren();
    pid = ForkInto(cgroup_fd, &in_cgroup);
    if (pid == 0) RunChild(plan, in_cgroup);
    if (pid > 0) RegisterOwnChildLocked(pid);
  }
  if (pid < 0) {
    return train::ResourceExhaustedError(ErrnoMessage(who + ": fork failed", errno) +
                                         "; the system is out of processes or memory");
  }
  // Before the child can exec and fork: should trainctl die from here on, the watchdog knows the
  // session to kill. (No setpgid here: it would make the child's setsid fail.)
  ReportSession(pid);
  output.write.reset();
  report.write.reset();

  // The report pipe closes at exec (O_CLOEXEC): end of file means the program is running.
  ChildReport child_report;
  ssize_t n;
  in_cgroup = cgroup_fd >= 0;
  while (true) {
    do {
      n = ::read(report.read.get(), &child_report, sizeof(child_report));
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof(child_report)) ||
        child_report.stage != static_cast<int>(ChildStage::kCgroup)) {
      break;
    }
    in_cgroup = false;
    train::LogWarning(ErrnoMessage("rank " + std::to_string(spec.rank) +
                                       " could not join its cgroup; it is tracked by session",
                                   child_report.err));
  }
  if (n == 0) return SpawnedProcess{pid, std::move(output.read), in_cgroup};
  if (n != static_cast<ssize_t>(sizeof(child_report))) {
    int err = n < 0 ? errno : EIO;
    KillAndReap(pid);
    return train::InternalError(
        ErrnoMessage(who + ": reading the start-up report of \"" + program + "\"", err));
  }
  int status = 0;
  Reap(pid, &status);  // the child is exiting on its own
  return StartError(who, spec, searched, search_path, child_report);
}

void KillAndReap(pid_t pid) {
  if (::kill(-pid, SIGKILL) != 0) (void)::kill(pid, SIGKILL);  // not yet its own session
  int status = 0;
  Reap(pid, &status);
}

WorkerExit ExitFromWaitStatus(int status) {
  WorkerExit exit;
  if (WIFEXITED(status)) {
    exit.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  exit.when = std::chrono::system_clock::now();
  return exit;
}

}  // namespace trainctl::agent::process_internal
