#include "job_watchdog.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "job_cgroup.h"
#include "memory_dir.h"
#include "process_fd.h"
#include "process_tree.h"

namespace trainctl::agent {
using process_internal::ErrnoMessage;
using process_internal::JobScope;
namespace {

using std::chrono::milliseconds;

// Without a cgroup, how often the watchdog notes the job's processes (a /proc scan).
constexpr milliseconds kNotePollInterval{200};
// How long a normal end waits for the watchdog to finish.
constexpr milliseconds kWatchdogExitWait{5000};

// Threads of this process (/proc/self/stat field 20); 0 when unknown.
long ThreadCount() {
  std::FILE* stat = std::fopen("/proc/self/stat", "re");
  if (stat == nullptr) return 0;
  char buffer[1024] = {};
  std::size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, stat);
  std::fclose(stat);
  buffer[n] = '\0';
  const char* close = std::strrchr(buffer, ')');
  if (close == nullptr) return 0;
  std::istringstream fields(close + 1);
  std::string field;
  for (int i = 3; i < 20 && fields >> field; ++i) {
  }
  long threads = 0;
  fields >> threads;
  return threads;
}

struct WatchPlan {
  int read_fd = -1;
  std::string cgroup_dir;
  pid_t launcher = 0;
  pid_t launcher_session = 0;
};

// Only the read end of the pipe and stderr (for its own errors) stay open: the watchdog must not
// keep the launcher's sockets, the workers' output pipes or a terminal's input alive.
void CloseAllBut(int keep) {
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    (void)::dup2(null, STDIN_FILENO);
    (void)::dup2(null, STDOUT_FILENO);
    if (null > STDERR_FILENO && null != keep) (void)::close(null);
  }
  unsigned k = static_cast<unsigned>(keep);
  if ((k == 3 || ::close_range(3, k - 1, 0) == 0) && ::close_range(k + 1, ~0U, 0) == 0) return;
  for (int fd = 3; fd < 65536; ++fd) {
    if (fd != keep) (void)::close(fd);
  }
}

// Processes noted as the job's, with their start times (a pid that was reused is not theirs).
using Noted = std::map<pid_t, unsigned long long>;

// Without a cgroup, the job's processes as they are now: once the launcher is dead, a process
// that left its worker's session is linked to the job only by what was noted here (its parent
// dies with the launcher, and an orphan the launcher adopted goes to init).
void NoteJobProcesses(const WatchPlan& plan, const std::set<pid_t>& sessions, Noted* noted) {
  std::vector<process_internal::ProcessInfo> processes = process_internal::ScanProcesses();
  std::set<pid_t> roots;
  const pid_t self = ::getpid();
  for (const auto& p : processes) {
    auto before = noted->find(p.pid);
    bool still_noted = before != noted->end() && before->second == p.start_time;
    // Orphans the launcher adopted as a subreaper.
    bool adopted = p.ppid == plan.launcher && p.pid != self && p.state != 'Z' &&
                   p.session != plan.launcher_session && !sessions.count(p.pid);
    if (still_noted || adopted) roots.insert(p.pid);
  }
  // With the descendants of the workers and of those, in whatever session.
  std::set<pid_t> job;
  for (pid_t pid : process_internal::JobProcesses(processes, sessions, roots)) job.insert(pid);
  noted->clear();
  for (const auto& p : processes) {
    if (job.count(p.pid)) (*noted)[p.pid] = p.start_time;
  }
}

std::set<pid_t> Pids(const Noted& noted) {
  std::set<pid_t> pids;
  for (const auto& [pid, start_time] : noted) pids.insert(pid);
  return pids;
}

void KillJob(const WatchPlan& plan, const std::set<pid_t>& sessions, const std::set<pid_t>& noted) {
  if (!plan.cgroup_dir.empty()) process_internal::KillCgroup(plan.cgroup_dir);
  // Also by session: a worker that could not join its cgroup is still found.
  process_internal::KillSessionsAndDescendants(sessions, noted);
  if (plan.cgroup_dir.empty()) return;
  if (!process_internal::WaitCgroupEmpty(plan.cgroup_dir, process_internal::kCgroupEmptyWait) ||
      !process_internal::RemoveCgroup(plan.cgroup_dir)) {
    std::fprintf(stderr,
                 "trainctl watchdog: the job's cgroup %s still holds processes after SIGKILL "
                 "(uninterruptible sleep?); remove it with rmdir once they are gone\n",
                 plan.cgroup_dir.c_str());
  }
}

[[noreturn]] void RunWatchdog(const WatchPlan& plan) {
  // Its own session: a signal to the launcher's process group (Ctrl-C, kill -9 -PGID) must not
  // take the watchdog with it, and it must not be the terminal's.
  (void)::setsid();
  (void)::prctl(PR_SET_NAME, "trainctl-watch");
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig :
       {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2}) {
    (void)::signal(sig, SIG_IGN);
  }
  CloseAllBut(plan.read_fd);

  std::set<pid_t> sessions;
  Noted noted;  // without a cgroup: the job's processes at the last look
  std::string pending;
  const int timeout_ms = plan.cgroup_dir.empty() ? static_cast<int>(kNotePollInterval.count()) : -1;
  while (true) {
    pollfd pfd{plan.read_fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      NoteJobProcesses(plan, sessions, &noted);
      continue;
    }
    char buffer[4096];
    ssize_t n = ::read(plan.read_fd, buffer, sizeof(buffer));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // end of file: the launcher is gone (or done)
    pending.append(buffer, static_cast<std::size_t>(n));
    std::size_t used = 0;
    for (; pending.size() - used >= sizeof(std::int32_t); used += sizeof(std::int32_t)) {
      std::int32_t record = 0;
      std::memcpy(&record, pending.data() + used, sizeof(record));
      if (record > 0) {
        sessions.insert(record);
      } else {
        sessions.erase(-record);
        noted.erase(-record);
      }
    }
    pending.erase(0, used);
  }
  // The last look, now that the launcher is gone: drops noted pids that were reused since.
  if (plan.cgroup_dir.empty()) NoteJobProcesses(plan, sessions, &noted);
  KillJob(plan, sessions, Pids(noted));
  RemoveMemorySnapshotDirs(plan.launcher);  // the node's memory goes with its launcher
  ::_exit(0);
}

}  // namespace

train::Result<std::unique_ptr<JobWatchdog>> JobWatchdog::Start(const JobWatchdogOptions& options) {
  if (long threads = ThreadCount(); threads != 1) {
    return train::FailedPreconditionError("cannot start the job watchdog: this process runs " +
                                          std::to_string(threads) +
                                          " threads; it must be started before any thread");
  }
  if (process_internal::CurrentJobScope().watchdog_fd >= 0) {
    return train::FailedPreconditionError("a job watchdog already runs in this process");
  }
  std::unique_ptr<JobWatchdog> watchdog(new JobWatchdog());
  std::string no_cgroup = "turned off";
  if (options.use_cgroup) {
    train::Result<std::string> parent = options.cgroup_parent.empty()
                                            ? process_internal::OwnCgroupDir()
                                            : train::Result<std::string>(options.cgroup_parent);
    train::Result<std::string> created =
        parent.ok()
            ? process_internal::CreateCgroup(*parent, "trainctl-" + std::to_string(::getpid()))
            : parent.status();
    if (created.ok()) {
      watchdog->cgroup_dir_ = *created;
    } else {
      no_cgroup = created.status().message();
    }
  }
  watchdog->description_ =
      watchdog->cgroup_dir_.empty()
          ? "no cgroup for the job (" + no_cgroup +
                "); its processes are tracked by session instead: if trainctl is killed, a process "
                "that left its worker's session less than 0.2 s before may survive it"
          : "the job's processes are kept in cgroup " + watchdog->cgroup_dir_;

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    int err = errno;
    if (!watchdog->cgroup_dir_.empty()) process_internal::RemoveCgroup(watchdog->cgroup_dir_);
    return train::ResourceExhaustedError(ErrnoMessage("cannot create the watchdog's pipe", err) +
                                         "; raise the open-file limit (ulimit -n)");
  }
  WatchPlan plan;
  plan.read_fd = fds[0];
  plan.cgroup_dir = watchdog->cgroup_dir_;
  plan.launcher = ::getpid();
  plan.launcher_session = ::getsid(0);
  // Orphans of the job are re-parented here rather than to init, where they stay in reach.
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t pid;
  {
    auto lock = process_internal::LockOwnChildren();
    pid = ::fork();
    if (pid == 0) RunWatchdog(plan);
    if (pid > 0) process_internal::RegisterOwnChildLocked(pid);
  }
  int fork_errno = errno;
  ::close(fds[0]);
  if (pid < 0) {
    ::close(fds[1]);
    (void)::prctl(PR_SET_CHILD_SUBREAPER, 0);
    if (!watchdog->cgroup_dir_.empty()) process_internal::RemoveCgroup(watchdog->cgroup_dir_);
    return train::ResourceExhaustedError(ErrnoMessage("cannot fork the job watchdog", fork_errno) +
                                         "; the system is out of processes or memory");
  }
  // Non-blocking: a launcher must never stall on a watchdog that stopped reading.
  int flags = ::fcntl(fds[1], F_GETFL);
  if (flags >= 0) (void)::fcntl(fds[1], F_SETFL, flags | O_NONBLOCK);
  watchdog->pid_ = pid;
  watchdog->write_fd_ = fds[1];
  process_internal::SetJobScope(JobScope{watchdog->cgroup_dir_, fds[1], true});
  return watchdog;
}

JobWatchdog::~JobWatchdog() {
  process_internal::SetJobScope(JobScope{});
  // Opened before the end of file, so the wait below cannot miss the exit.
  process_internal::UniqueFd exited(pid_ > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0))
                                             : -1);
  if (write_fd_ >= 0) ::close(write_fd_);  // end of file: the watchdog cleans up and exits
  const auto deadline = std::chrono::steady_clock::now() + kWatchdogExitWait;
  if (exited.valid()) {
    pollfd pfd{exited.get(), POLLIN, 0};
    while (::poll(&pfd, 1, static_cast<int>(kWatchdogExitWait.count())) < 0 && errno == EINTR) {
    }
  }
  while (pid_ > 0) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      (void)::kill(pid_, SIGKILL);
      (void)::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  if (pid_ > 0) process_internal::UnregisterOwnChild(pid_);
  // If the watchdog could not finish (killed), what it left is removed here.
  if (!cgroup_dir_.empty()) {
    process_internal::KillCgroup(cgroup_dir_);
    process_internal::WaitCgroupEmpty(cgroup_dir_, process_internal::kCgroupEmptyWait);
    process_internal::RemoveCgroup(cgroup_dir_);
  }
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

}  // namespace trainctl::agent
