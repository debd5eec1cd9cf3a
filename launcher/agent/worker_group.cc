// The worker group's public face; the work happens in the monitor thread (process_monitor.cc).
#include "worker_group.h"

#include <signal.h>
#include <string.h>  // sigabbrev_np
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "process_group_state.h"
#include "train/log.h"

namespace trainctl::agent {
using process_internal::ErrnoMessage;
using process_internal::kOutputDrainGrace;
using process_internal::OpenLogFile;
using process_internal::UniqueFd;
namespace {

using std::chrono::milliseconds;

// How long the destructor lets workers handle SIGTERM before SIGKILL.
constexpr milliseconds kDestructorStopGrace{2000};
// How long Stop waits for SIGKILLed workers (a process in uninterruptible sleep dies late).
constexpr milliseconds kKillWait{10000};

}  // namespace

std::string WorkerExit::Describe() const {
  if (signal == 0) return "exited with code " + std::to_string(exit_code);
  const char* abbrev = ::sigabbrev_np(signal);
  std::string name = abbrev != nullptr ? std::string("SIG") + abbrev : "unknown signal";
  return "killed by signal " + std::to_string(signal) + " (" + name + ")";
}

train::Result<std::unique_ptr<WorkerGroup>> WorkerGroup::Start(std::vector<WorkerSpec> specs,
                                                               Terminal* terminal,
                                                               train::internal::OsEnv* env) {
  if (terminal == nullptr) {
    return train::InvalidArgumentError(
        "WorkerGroup::Start: terminal is null; pass the Terminal that shows the workers' output");
  }
  auto state = std::make_unique<State>(terminal, env);
  for (WorkerSpec& spec : specs) {
    UniqueFd log;
    if (!spec.log_path.empty()) {
      train::Result<UniqueFd> opened = OpenLogFile(spec.log_path);
      if (!opened.ok()) {
        return opened.status().WithContext("cannot start rank " + std::to_string(spec.rank));
      }
      log = std::move(opened).value();
    }
    state->workers.push_back(
        std::make_unique<State::Worker>(std::move(spec), terminal, std::move(log)));
  }
  state->wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!state->wake.valid()) {
    return train::ResourceExhaustedError(
        ErrnoMessage("cannot create an eventfd for the worker group", errno) +
        "; raise the open-file limit (ulimit -n)");
  }

  std::promise<train::Status> started;
  std::future<train::Status> spawned = started.get_future();
  TRAIN_RETURN_IF_ERROR(state->StartMonitor(std::move(started)));
  train::Status status = spawned.get();
  if (!status.ok()) {
    state->monitor.join();  // it has reaped whatever it started
    return status;
  }
  std::unique_ptr<WorkerGroup> group(new WorkerGroup());
  group->state_ = std::move(state);
  return group;
}

WorkerGroup::~WorkerGroup() {
  if (state_ == nullptr) return;
  std::vector<WorkerExit> unreported = Stop(kDestructorStopGrace);
  (void)unreported;  // the owner did not ask for them
}

std::optional<WorkerExit> WorkerGroup::WaitAny(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  s.changed.wait_for(lock, timeout, [&] {
    return !s.ready.empty() || std::all_of(s.workers.begin(), s.workers.end(),
                                           [](const auto& w) { return w->reported; });
  });
  if (s.ready.empty()) return std::nullopt;
  State::Worker* worker = s.ready.front();
  s.ready.pop_front();
  worker->reported = true;
  return worker->ended;
}

int WorkerGroup::running() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return static_cast<int>(std::count_if(state_->workers.begin(), state_->workers.end(),
                                        [](const auto& w) { return !w->reported; }));
}

std::vector<pid_t> WorkerGroup::pids() const {
  std::vector<pid_t> pids;
  for (const auto& w : state_->workers) pids.push_back(w->pid);
  return pids;
}

void WorkerGroup::Signal(int signal) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->SignalLocked(signal);
}

std::vector<WorkerExit> WorkerGroup::Stop(std::chrono::milliseconds grace) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  auto all_reaped = [&] { return s.AllReapedLocked(); };
  if (!all_reaped()) {
    s.SignalLocked(SIGTERM);
    s.SignalLocked(SIGCONT);  // a stopped (SIGSTOP) worker can only act on SIGTERM when resumed
    if (!s.changed.wait_for(lock, grace, all_reaped)) {
      s.SignalLocked(SIGKILL);
      if (!s.changed.wait_for(lock, kKillWait, all_reaped)) {
        train::LogWarning("worker group: some workers survived SIGKILL for " +
                          std::to_string(kKillWait.count()) +
                          " ms (uninterruptible sleep?); continuing without them");
      }
    }
  }
  // Their output ends soon after they do; the monitor reports them when it has (or after a
  // grace), and then their last lines are in LastLines.
  s.changed.wait_for(lock, 2 * kOutputDrainGrace, [&] {
    return std::all_of(s.workers.begin(), s.workers.end(),
                       [](const auto& w) { return !w->reaped || w->queued; });
  });
  std::vector<WorkerExit> exits;
  for (State::Worker* worker : s.ready) {
    worker->reported = true;
    exits.push_back(worker->ended);
  }
  s.ready.clear();
  for (const auto& w : s.workers) {
    if (!w->reaped || w->reported) continue;
    w->reported = true;
    exits.push_back(w->ended);
  }
  s.changed.notify_all();  // a WaitAny in another thread has nothing left to wait for
  const bool all_reaped_now = all_reaped();
  lock.unlock();
  // A restarted round must not find the previous round's orphans still running.
  if (all_reaped_now) s.CleanUpJobProcesses();
  return exits;
}

std::vector<std::string> WorkerGroup::LastLines(int rank, std::size_t count) const {
  for (const auto& w : state_->workers) {
    if (w->spec.rank == rank) return w->sink.LastLines(count);
  }
  return {};
}

}  // namespace trainctl::agent
