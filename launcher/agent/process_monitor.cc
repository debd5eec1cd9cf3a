// The worker group's monitor thread: spawning, output, reaping.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>

#include "job_cgroup.h"
#include "process_group_state.h"
#include "process_spawn.h"
#include "process_tree.h"
#include "train/log.h"

namespace trainctl::agent {
using process_internal::Clock;
using process_internal::ErrnoMessage;
using process_internal::ExitFromWaitStatus;
using process_internal::KillAndReap;
using process_internal::kOutputDrainGrace;
using process_internal::SetNonBlocking;
using process_internal::SpawnedProcess;
using process_internal::SpawnWorker;
using process_internal::UniqueFd;
namespace {

using std::chrono::milliseconds;

// How often exits are looked for when the kernel has no pidfd_open (Linux < 5.3).
constexpr milliseconds kReapPollInterval{20};
// How often a subreaper reaps orphans of the job that exited on their own.
constexpr milliseconds kOrphanReapInterval{1000};
constexpr std::size_t kReadChunk = 64 * 1024;
// At shutdown, how much of a worker's still-buffered output is read before giving up on it.
constexpr int kShutdownDrainChunks = 16;

// A descriptor that becomes readable when `pid` exits; empty where pidfds are not supported
// (ENOSYS), and the exit is then found by polling.
UniqueFd OpenPidFd(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

}  // namespace

train::Status WorkerGroup::State::StartMonitor(std::promise<train::Status> started) {
  // The monitor thread forks the workers and outlives them: PR_SET_PDEATHSIG fires when the
  // thread that forked a child exits, not when the process does, so forking from the caller's
  // thread would kill every worker as soon as that thread ended. The thread blocks all signals:
  // they are the caller's to handle, and no handler may run in a child before it resets them.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  if (int err = ::pthread_sigmask(SIG_SETMASK, &all, &old); err != 0) {
    return train::InternalError(ErrnoMessage("pthread_sigmask", err));
  }
  train::Status status;
  try {
    monitor = std::thread(&State::Run, this, std::move(started));
  } catch (const std::system_error& e) {
    status = train::ResourceExhaustedError(std::string("cannot start the worker group's thread: ") +
                                           e.what() + "; the system is out of threads or memory");
  }
  TRAIN_CHECK_EQ(::pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
  return status;
}

void WorkerGroup::State::Run(std::promise<train::Status> started) {
  train::Status status = SpawnAll();
  bool ok = status.ok();
  started.set_value(std::move(status));
  if (ok) Monitor();
}

train::Status WorkerGroup::State::SpawnAll() {
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull.valid()) {
    return train::InternalError(
        ErrnoMessage("cannot open /dev/null for the workers' stdin", errno));
  }
  const process_internal::JobScope scope = process_internal::CurrentJobScope();
  static std::atomic<unsigned> next_cgroup{0};
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker& worker = *workers[i];
    // A cgroup per worker: when it exits, whatever it started goes with it, and nothing else.
    UniqueFd cgroup_fd;
    if (!scope.cgroup_dir.empty()) {
      auto created = process_internal::CreateCgroup(
          scope.cgroup_dir, "worker-" + std::to_string(next_cgroup.fetch_add(1)) + "-rank-" +
                                std::to_string(worker.spec.rank));
      auto opened = created.ok() ? process_internal::OpenCgroupDir(*created)
                                 : train::Result<UniqueFd>(created.status());
      if (opened.ok()) {
        worker.cgroup = *created;
        cgroup_fd = std::move(opened).value();
      } else {
        if (created.ok()) (void)process_internal::RemoveCgroup(*created);
        train::LogWarning("rank " + std::to_string(worker.spec.rank) +
                          " runs without a cgroup of its own: " + opened.status().message() +
                          "; it is tracked by session");
      }
    }
    train::Result<SpawnedProcess> spawned =
        SpawnWorker(worker.spec, devnull.get(), cgroup_fd.get());
    train::Status status = spawned.ok() ? SetNonBlocking(spawned->output.get()) : spawned.status();
    if (!status.ok()) {
      if (spawned.ok()) KillAndReap(spawned->pid);
      for (std::size_t j = 0; j < i; ++j) KillAndReap(workers[j]->pid);
      return status;
    }
    worker.pid = spawned->pid;
    worker.in_cgroup = spawned->in_cgroup;
    worker.output = std::move(spawned->output);
    worker.pidfd = OpenPidFd(worker.pid);
  }
  return train::Status::Ok();
}

void WorkerGroup::State::Monitor() {
  struct Source {
    Worker* worker;  // nullptr for the wake-up eventfd
    bool is_output;
  };
  std::vector<pollfd> fds;
  std::vector<Source> sources;
  std::vector<char> buffer(kReadChunk);
  bool stop = false;
  Clock::time_point next_orphan_reap = Clock::now() + kOrphanReapInterval;
  while (!stop) {
    fds.clear();
    sources.clear();
    fds.push_back({wake.get(), POLLIN, 0});
    sources.push_back({nullptr, false});
    bool poll_exits = false;
    std::optional<Clock::time_point> deadline;
    for (const auto& w : workers) {
      if (w->output.valid()) {
        fds.push_back({w->output.get(), POLLIN, 0});
        sources.push_back({w.get(), true});
      }
      if (!w->reaped && w->pidfd.valid()) {
        fds.push_back({w->pidfd.get(), POLLIN, 0});
        sources.push_back({w.get(), false});
      } else if (!w->reaped) {
        poll_exits = true;
      } else if (!w->queued) {
        Clock::time_point due = w->reaped_at + kOutputDrainGrace;
        deadline = deadline ? std::min(*deadline, due) : due;
      }
    }
    const bool subreaper = process_internal::CurrentJobScope().subreaper;
    int timeout_ms = poll_exits  ? static_cast<int>(kReapPollInterval.count())
                     : subreaper ? static_cast<int>(kOrphanReapInterval.count())
                                 : -1;
    if (deadline) {
      auto left = std::chrono::ceil<milliseconds>(*deadline - Clock::now()).count();
      int until_due = static_cast<int>(std::max<decltype(left)>(left, 0));
      timeout_ms = timeout_ms < 0 ? until_due : std::min(timeout_ms, until_due);
    }

    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      train::LogError(ErrnoMessage("worker group: poll", errno));
      std::this_thread::sleep_for(kReapPollInterval);  // do not spin on a persistent error
      continue;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const Source& source = sources[i];
      if (source.worker == nullptr) {
        std::uint64_t count = 0;
        ssize_t drained = ::read(wake.get(), &count, sizeof(count));
        (void)drained;  // EAGAIN: already consumed by an earlier round
        std::lock_guard<std::mutex> lock(mutex);
        stop = shutdown;
      } else if (source.is_output) {
        ReadOutput(*source.worker, buffer);
      } else {
        TryReap(*source.worker);
      }
    }
    if (poll_exits) {
      for (const auto& w : workers) {
        if (!w->reaped && !w->pidfd.valid()) TryReap(*w);
      }
    }
    QueueFinished();
    if (subreaper && Clock::now() >= next_orphan_reap) {
      process_internal::ReapAdoptedZombies();
      next_orphan_reap = Clock::now() + kOrphanReapInterval;
    }
  }
  Drain(buffer);
}

void WorkerGroup::State::ReadOutput(Worker& worker, std::vector<char>& buffer) {
  // One read per wake-up, so that a chatty worker cannot starve the others.
  ssize_t n = ::read(worker.output.get(), buffer.data(), buffer.size());
  if (n > 0) {
    worker.sink.Append(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    train::LogWarning(
        ErrnoMessage("reading the output of rank " + std::to_string(worker.spec.rank), errno));
  }
  worker.sink.Finish();
  worker.output.reset();
  worker.output_done = true;
}

void WorkerGroup::State::TryReap(Worker& worker) {
  siginfo_t info{};
  bool known = true;
  // WNOWAIT: look without reaping, so that the pid stays reserved for the kill below.
  if (::waitid(P_PID, static_cast<id_t>(worker.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) return;  // looked at again on the next round
    known = false;               // ECHILD: it is no longer our child to wait for
  } else if (info.si_pid == 0) {
    return;  // still running
  }

  std::lock_guard<std::mutex> lock(mutex);
  int status = 0;
  pid_t reaped = -1;
  if (known) {
    // While the worker is an unreaped zombie its pid, and so its session and process group
    // ids, cannot be reused: what it left running is killed now, so that no subprocess of a
    // finished worker lingers or holds its output pipe open.
    KillLeftoversLocked(worker);
    do {
      reaped = ::waitpid(worker.pid, &status, 0);
    } while (reaped < 0 && errno == EINTR);
    process_internal::UnregisterOwnChild(worker.pid);
    process_internal::ReportSession(-worker.pid);
  }
  if (reaped == worker.pid) {
    worker.ended = ExitFromWaitStatus(status);
  } else {
    // Only when something else in this process reaps children (waitpid(-1) or SIGCHLD ignored).
    train::LogWarning("rank " + std::to_string(worker.spec.rank) + " (pid " +
                      std::to_string(worker.pid) +
                      ") was reaped outside its worker group; its exit status is unknown");
    worker.ended = WorkerExit{};
    worker.ended.exit_code = 255;
    worker.ended.when = std::chrono::system_clock::now();
  }
  worker.ended.rank = worker.spec.rank;
  worker.ended.pid = worker.pid;
  worker.reaped = true;
  worker.reaped_at = Clock::now();
  worker.pidfd.reset();
  changed.notify_all();
}

void WorkerGroup::State::QueueFinished() {
  // An exit is reported once the worker's output has ended, so that its last lines are known
  // when the exit is (a root-cause summary quotes them); or after a grace, if it never ends.
  Clock::time_point now = Clock::now();
  std::lock_guard<std::mutex> lock(mutex);
  bool any = false;
  for (const auto& w : workers) {
    if (!w->reaped || w->queued) continue;
    if (!w->output_done && now < w->reaped_at + kOutputDrainGrace) continue;
    w->queued = true;
    if (!w->reported) ready.push_back(w.get());
    any = true;
  }
  if (any) changed.notify_all();
}

void WorkerGroup::State::Drain(std::vector<char>& buffer) {
  for (const auto& w : workers) {
    for (int i = 0; i < kShutdownDrainChunks && w->output.valid(); ++i) {
      ssize_t n = ::read(w->output.get(), buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // end of file, or nothing more buffered (EAGAIN)
      w->sink.Append(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    }
    w->sink.Finish();
    w->output.reset();
  }
}

void WorkerGroup::State::RequestShutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    shutdown = true;
  }
  std::uint64_t one = 1;
  TRAIN_CHECK_EQ(::write(wake.get(), &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
}

void WorkerGroup::State::KillLeftoversLocked(const Worker& worker) {
  (void)env->Kill(-worker.pid, SIGKILL);  // ESRCH: nothing was left in its process group
  if (worker.in_cgroup) {
    process_internal::KillCgroup(worker.cgroup, env);
  } else {
    // Its session, and what descends from it even in sessions of their own.
    process_internal::KillSessionsAndDescendants({worker.pid}, {}, env);
  }
}

void WorkerGroup::State::CleanUpJobProcesses() {
  const process_internal::JobScope scope = process_internal::CurrentJobScope();
  bool all_in_cgroups = std::all_of(workers.begin(), workers.end(),
                                    [](const auto& w) { return w->in_cgroup || w->pid < 0; });
  if (scope.subreaper && !all_in_cgroups) {
    // Orphans that left their worker's session (a double-forked daemon) were re-parented here.
    std::vector<pid_t> adopted = process_internal::AdoptedChildren();
    process_internal::KillSessionsAndDescendants({}, {adopted.begin(), adopted.end()}, env);
  }
  for (const auto& w : workers) {
    if (w->cgroup.empty()) continue;
    process_internal::KillCgroup(w->cgroup, env);
    if (!process_internal::WaitCgroupEmpty(w->cgroup, process_internal::kCgroupEmptyWait)) {
      train::LogWarning("worker group: processes of rank " + std::to_string(w->spec.rank) +
                        " survived SIGKILL (uninterruptible sleep?); their cgroup " + w->cgroup +
                        " is left for the job's watchdog");
      continue;
    }
    if (process_internal::RemoveCgroup(w->cgroup)) w->cgroup.clear();
  }
  // Killed orphans are this process's zombies now.
  if (scope.subreaper) process_internal::ReapAdoptedZombies();
}

void WorkerGroup::State::SignalLocked(int signal) {
  for (const auto& w : workers) {
    if (w->reaped) continue;  // its pid may belong to someone else by now
    if (env->Kill(-w->pid, signal) != 0 && errno != ESRCH) {
      train::LogWarning(ErrnoMessage("sending signal " + std::to_string(signal) + " to rank " +
                                         std::to_string(w->spec.rank) + " (process group " +
                                         std::to_string(w->pid) + ")",
                                     errno));
    }
  }
}

}  // namespace trainctl::agent
