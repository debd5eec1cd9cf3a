// libtrain's own counters, added to every step report: what the Communicator moved and how long
// checkpoints took. Process-wide and cumulative; the agent turns them into rates and totals.
#ifndef TRAIN_INTERNAL_COUNTERS_H_
#define TRAIN_INTERNAL_COUNTERS_H_

#include <cstdint>

namespace train::internal {

struct LibraryCounters {
  std::int64_t allreduce_ops = 0;
  std::int64_t allreduce_bytes = 0;     // input bytes of each completed all-reduce
  double allreduce_seconds = 0;         // from the op starting to run to its completion
  std::int64_t checkpoint_saves = 0;    // saves that committed on this rank
  double checkpoint_save_seconds = 0;   // Save called -> files committed (async included)
  double checkpoint_stall_seconds = 0;  // how long Save held the training loop
  double last_checkpoint_save_seconds = 0;
};

void CountAllReduce(std::int64_t bytes, double seconds);
void CountCheckpointSave(double total_seconds, double stall_seconds);
LibraryCounters SnapshotCounters();

}  // namespace train::internal

#endif  // TRAIN_INTERNAL_COUNTERS_H_
