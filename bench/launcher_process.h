// Runs one launcher (trainctl or torchrun) as a child of the benchmark, the way a user's shell
// would, and reports what the benchmark measures about it: when it started, how it exited, and
// its own peak memory.
#ifndef BENCH_LAUNCHER_PROCESS_H_
#define BENCH_LAUNCHER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "train/status.h"

namespace bench {

// CLOCK_REALTIME in nanoseconds: the one clock the benchmark and its workers share.
long long RealtimeNanos();

struct LaunchSpec {
  std::vector<std::string> argv;           // argv[0] is a path, not searched in PATH
  std::map<std::string, std::string> env;  // the child's whole environment
  std::string working_dir;
  std::string log_path;  // stdout and stderr go here
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

struct LaunchResult {
  long long start_ns = 0;  // CLOCK_REALTIME just before the spawn
  double wall_s = 0;       // spawn until the launcher was reaped
  int exit_code = 0;       // 128+N when signal N killed it
  bool timed_out = false;  // stopped by the benchmark (its process group was killed)
  long peak_rss_kib = 0;   // the launcher process's own VmHWM, last sample before it exited
  long wait4_rss_kib = 0;  // wait4's ru_maxrss: the larger of its own and its reaped children's
  int leftovers = 0;       // descendants still alive after it exited (killed by the benchmark)
};

// Makes this process the reaper of its orphaned descendants, so that RunLauncher can find and
// kill whatever a launcher leaves behind. Call once, before the first RunLauncher.
train::Status BecomeSubreaper();

// Spawns spec.argv in a new process group and waits for it to exit, sampling its VmHWM. Past
// the timeout it sends SIGTERM to the group, then SIGKILL. Afterwards every remaining
// descendant is killed and reaped, so no run outlives its measurement.
train::Result<LaunchResult> RunLauncher(const LaunchSpec& spec);

// Parent pid and state of `pid` from /proc/<pid>/stat (the name may hold spaces and parens);
// false when it is gone.
bool ReadParent(pid_t pid, pid_t* parent, char* state);

// Kills and reaps every child this process has (orphans reparented to it as subreaper, see
// BecomeSubreaper), until none is left; returns how many were still running.
int KillOrphans();

}  // namespace bench

#endif  // BENCH_LAUNCHER_PROCESS_H_
