// One run of bench_goodput: the Fashion-MNIST job on 2 nodes (2 `trainctl agent` processes on
// this machine, 1 worker each), with one fault injected mid-training (or none: the calm run),
// and what its output shows about the recovery.
#ifndef BENCH_GOODPUT_RUN_H_
#define BENCH_GOODPUT_RUN_H_

#include <string>

#include "train/status.h"

namespace bench {

enum class Fault {
  kNone,       // the calm run
  kWorker,     // SIGKILL node 1's worker
  kNode,       // SIGKILL node 1's agent (its worker goes with it); a replacement starts at once
  kStoreNode,  // SIGKILL node 0's agent, the store's host; node 1 takes the store over; a
               // replacement node 0 joins it there
  kSigterm,    // SIGTERM to both agents (preemption); both start again when they exited
};

enum class Recovery {
  kDisk,    // checkpoints to disk every 50 steps
  kMemory,  // in-memory peer snapshots every step (1 replica), disk every 200
};

const char* FaultName(Fault fault);
const char* RecoveryName(Recovery recovery);

struct GoodputConfig {
  std::string trainctl;    // the trainctl binary
  std::string train;       // the Fashion-MNIST trainer
  std::string train_data;  // HDF5, from `trainctl data import idx`
  std::string test_data;
  std::string work_dir;  // specs, tokens, run and checkpoint dirs, one log per agent
  int steps = 375;
  int fault_at_step = 225;  // the fault follows rank 0's line for this step
  int run_timeout_s = 600;
};

struct GoodputResult {
  std::string params_sha256;  // rank 0's final line
  // Calm runs: the median time between rank 0's consecutive step lines, and the program's own
  // start (from the agents' "round 0:" line to rank 0's first step line, less one step time).
  double step_s = 0;
  double start_s = 0;
  double train_s = 0;  // calm runs: from the "round 0:" line to rank 0's last step line
  // Fault runs.
  long last_step_before = 0;  // the highest step rank 0 printed before the fault
  long resumed_step = 0;      // the step the job resumed from (0: no `resumed from` line)
  double to_round_s = 0;      // fault until the first "round N:" line after it
  double to_training_s = 0;   // fault until rank 0's first step line after the resume
  std::string log_dir;        // where the agents' output is
};

// Runs the job once with `fault` in `recovery` mode; `tag` names its files under work_dir. An
// error when the job fails, a fault cannot be injected, or the recovery is not seen.
train::Result<GoodputResult> RunGoodput(const GoodputConfig& config, Fault fault, Recovery recovery,
                                        const std::string& tag);

}  // namespace bench

#endif  // BENCH_GOODPUT_RUN_H_
