// One measured run of a launcher: the command line for trainctl or torchrun, a private
// temporary directory, and the worker events read back afterwards.
#ifndef BENCH_TRIAL_H_
#define BENCH_TRIAL_H_

#include <string>
#include <vector>

#include "launcher_process.h"
#include "train/status.h"
#include "worker_events.h"

namespace bench {

struct Programs {
  std::string trainctl;
  std::string torchrun;
  std::string worker;  // bench_launch_worker
};

enum class Launcher { kTrainctl, kTorchrun };
const char* LauncherName(Launcher launcher);

struct TrialConfig {
  Launcher launcher = Launcher::kTrainctl;
  int nproc = 1;
  bool fail_first = false;        // rank 0 exits 1 on the first attempt; one restart allowed
  int hold_ms = 0;                // workers stay up this long after the barrier
  double monitor_interval = 0.5;  // torchrun --monitor_interval
  // trainctl's restart backoff: a job file with failurePolicy.backoff set to it, or, when
  // empty, the quick form with --max-restarts 1 and the spec's default backoff.
  std::string backoff = "0s";
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

struct TrialResult {
  LaunchResult launch;
  std::vector<WorkerEvent> events;
  std::string error;     // empty when the run did what it should (exit 0, every event there)
  std::string log_tail;  // the launcher's last output lines, when it failed
};

// Runs `config` once in a fresh directory under `tmp_root`, removed afterwards unless
// `keep_failed` and the run failed (its path is then in `error`).
train::Result<TrialResult> RunTrial(const Programs& programs, const TrialConfig& config,
                                    const std::string& tmp_root, bool keep_failed);

}  // namespace bench

#endif  // BENCH_TRIAL_H_
