// The worker processes of one node: spawned together, watched, signalled and stopped together.
//
// Each worker leads its own session and process group (so a signal reaches its children too),
// joins its own cgroup when the process runs a JobWatchdog with one (job_watchdog.h), and dies
// with its parent (PR_SET_PDEATHSIG). When a worker exits, whatever it left running is killed
// (its cgroup, else its session, process group and descendants); when the group stops, so are
// orphans of the job this process adopted as a subreaper, and they are reaped. Its stdout and
// stderr share one pipe (their relative order is kept) and are read line by line: each line goes
// to the terminal with the worker's prefix and, unprefixed, to the worker's log file.
//
// The group owns one thread: it forks the workers (PR_SET_PDEATHSIG fires when the forking
// *thread* ends, so the group may be started from any thread), reads all their output and
// notices their exits. The group may be used from several threads.
#ifndef TRAINCTL_AGENT_WORKER_GROUP_H_
#define TRAINCTL_AGENT_WORKER_GROUP_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "terminal.h"
#include "train/internal/os_env.h"
#include "train/status.h"

namespace trainctl::agent {

struct WorkerSpec {
  int rank = 0;                            // global rank: names the worker in events
  std::vector<std::string> argv;           // argv[0] is searched in PATH when it has no '/'
  std::map<std::string, std::string> env;  // the child's whole environment
  std::string working_dir;                 // "" for the current directory
  std::string prefix;                      // put before each output line, e.g. "[rank 3] "
  std::string log_path;                    // output appended here ("" for none)
};

// How a worker ended.
struct WorkerExit {
  int rank = 0;
  pid_t pid = 0;
  int exit_code = 0;  // when it exited
  int signal = 0;     // when a signal killed it (exit_code is then 0)
  std::chrono::system_clock::time_point when;

  bool success() const { return signal == 0 && exit_code == 0; }
  // What a shell would report: the exit code, or 128 + the signal.
  int ShellCode() const { return signal != 0 ? 128 + signal : exit_code; }
  // "exited with code 1" / "killed by signal 9 (SIGKILL)".
  std::string Describe() const;
};

class WorkerGroup {
 public:
  // Spawns every worker and returns once each has exec'd. A worker that cannot start (no such
  // program, not executable, bad working directory, log file not writable) is an error naming
  // it and the reason, and no worker is left running. `terminal` must outlive the group.
  // `env` sends the signals (a test's refuses some).
  static train::Result<std::unique_ptr<WorkerGroup>> Start(
      std::vector<WorkerSpec> specs, Terminal* terminal,
      train::internal::OsEnv* env = train::internal::OsEnv::Default());

  // Stops (see Stop) whatever still runs.
  ~WorkerGroup();
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;

  // The next worker that ended, waiting up to `timeout`; nullopt on timeout or when none is
  // left running. Each exit is reported once, in the order they happened, and only after the
  // worker's output has ended (or a short grace passed), so LastLines already holds its last
  // words.
  std::optional<WorkerExit> WaitAny(std::chrono::milliseconds timeout);

  int running() const;              // workers not yet reported by WaitAny
  std::vector<pid_t> pids() const;  // in the order of the specs

  // Sends `signal` to every running worker's process group.
  void Signal(int signal);

  // SIGTERM to every running worker's process group, SIGKILL to those still running after
  // `grace`; returns once all are reaped and their output is flushed. Exits collected here are
  // returned (those not already reported by WaitAny).
  std::vector<WorkerExit> Stop(std::chrono::milliseconds grace);

  // The last `count` lines `rank` printed, oldest first (for a failure's root-cause summary);
  // the last 50 are kept. A line longer than 64 KiB counts as several.
  std::vector<std::string> LastLines(int rank, std::size_t count) const;

 private:
  WorkerGroup() = default;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_WORKER_GROUP_H_
