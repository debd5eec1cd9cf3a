// The worker group's shared state and its monitor thread (internal to worker_group.cc and
// process_monitor.cc).
#ifndef TRAINCTL_AGENT_PROCESS_GROUP_STATE_H_
#define TRAINCTL_AGENT_PROCESS_GROUP_STATE_H_

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "output_sink.h"
#include "process_fd.h"
#include "train/status.h"
#include "worker_group.h"

namespace trainctl::agent {
namespace process_internal {

using Clock = std::chrono::steady_clock;

// After a worker exits, how long its output may take to reach end of file before the exit is
// reported anyway (a descendant that left the worker's process group may hold the pipe).
inline constexpr std::chrono::milliseconds kOutputDrainGrace{300};

}  // namespace process_internal

// One thread, the monitor, forks the workers and then, with a single poll(2), reads every
// worker's output and notices every exit (through pidfds; by polling waitid where the kernel
// has none). Other threads only signal, wait on `changed`, and collect exits.
struct WorkerGroup::State {
  struct Worker {
    Worker(WorkerSpec worker_spec, Terminal* terminal, process_internal::UniqueFd log)
        : spec(std::move(worker_spec)),
          sink(terminal, spec.prefix, std::move(log), spec.log_path) {}

    WorkerSpec spec;
    process_internal::OutputSink sink;
    pid_t pid = -1;
    // Its cgroup below the job's ("" when none), and whether it joined it; set at spawn.
    std::string cgroup;
    bool in_cgroup = false;
    // Used by the monitor thread only.
    process_internal::UniqueFd output;
    process_internal::UniqueFd pidfd;
    bool output_done = false;
    // Written by the monitor thread, under State::mutex.
    bool reaped = false;
    bool queued = false;  // its exit may be reported (was put into State::ready)
    process_internal::Clock::time_point reaped_at;
    WorkerExit ended;
    // Under State::mutex: handed out by WaitAny or Stop.
    bool reported = false;
  };

  State(Terminal* out, train::internal::OsEnv* os) : terminal(out), env(os) {}
  ~State() {
    if (monitor.joinable()) {
      RequestShutdown();
      monitor.join();
    }
    CleanUpJobProcesses();
  }

  // Starts the monitor thread; `started` gets the outcome of spawning the workers.
  train::Status StartMonitor(std::promise<train::Status> started);
  // The monitor thread: spawns, then runs Monitor until RequestShutdown.
  void Run(std::promise<train::Status> started);
  train::Status SpawnAll();
  void Monitor();
  void ReadOutput(Worker& worker, std::vector<char>& buffer);
  void TryReap(Worker& worker);
  // Makes exits reportable once their output has ended (or its grace has passed).
  void QueueFinished();
  // At shutdown: reads what is still buffered in the pipes and flushes partial lines.
  void Drain(std::vector<char>& buffer);
  void RequestShutdown();
  // Kills what a worker left running (its cgroup, else its session and process group); its pid
  // is still reserved (an unreaped zombie) when this runs. `mutex` held.
  void KillLeftoversLocked(const Worker& worker);
  // After every worker is reaped: kills orphans the job left with this process (a subreaper),
  // reaps them and removes the workers' cgroups. Idempotent; `mutex` not held.
  void CleanUpJobProcesses();
  // kill(-pgid, signal) for every worker not yet reaped; `mutex` held.
  void SignalLocked(int signal);
  bool AllReapedLocked() const {
    return std::all_of(workers.begin(), workers.end(), [](const auto& w) { return w->reaped; });
  }

  Terminal* terminal;
  train::internal::OsEnv* env;  // sends the signals
  std::vector<std::unique_ptr<Worker>> workers;
  process_internal::UniqueFd wake;  // eventfd that interrupts the monitor's poll
  std::thread monitor;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<Worker*> ready;  // exits to report, in the order they happened
  bool shutdown = false;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_PROCESS_GROUP_STATE_H_
