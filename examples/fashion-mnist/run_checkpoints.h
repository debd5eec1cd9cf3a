// Where this run's checkpoints go, so that a new run starts fresh while a restart within a run
// resumes.
//
// The job's checkpoint directory (spec.checkpoint.dir, TRAIN_CHECKPOINT_DIR) outlives runs: run
// the job twice and the second run would find the first run's final checkpoint and do nothing.
// So each run checkpoints into a directory of its own, <root>/run-<UTC yyyymmdd-hhmmss.mmm>:
//   - a start with TRAIN_RESTART_COUNT 0 is a new run: rank 0 creates a new directory;
//   - a restart (TRAIN_RESTART_COUNT > 0, set by the launcher when it restarts the group after
//     a failure) continues the newest one, and train::Trainer resumes from its newest checkpoint.
// Rank 0 decides and broadcasts the name, so every rank agrees whatever the clocks say.
#ifndef EXAMPLES_FASHION_MNIST_RUN_CHECKPOINTS_H_
#define EXAMPLES_FASHION_MNIST_RUN_CHECKPOINTS_H_

#include <string>

#include "train/communicator.h"
#include "train/status.h"

namespace fashion_mnist {

// The run directories kept under the root: a new run deletes the oldest beyond this.
inline constexpr int kRunsKept = 3;

// The directory this run checkpoints into (see above). Collective over `comm`.
train::Result<std::string> RunCheckpointDir(const std::string& root, int restart_count,
                                            train::Communicator& comm);

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_RUN_CHECKPOINTS_H_
