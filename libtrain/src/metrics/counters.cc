#include "train/internal/counters.h"

#include <mutex>

namespace train::internal {
namespace {

// A mutex, not atomics: the doubles need it, and one lock per collective or checkpoint is
// nothing beside the work it counts.
std::mutex& CountersMutex() {
  static std::mutex mutex;
  return mutex;
}

LibraryCounters& Counters() {
  static LibraryCounters counters;
  return counters;
}

}  // namespace

void CountAllReduce(std::int64_t bytes, double seconds) {
  std::lock_guard<std::mutex> lock(CountersMutex());
  LibraryCounters& c = Counters();
  ++c.allreduce_ops;
  c.allreduce_bytes += bytes;
  c.allreduce_seconds += seconds;
}

void CountCheckpointSave(double total_seconds, double stall_seconds) {
  std::lock_guard<std::mutex> lock(CountersMutex());
  LibraryCounters& c = Counters();
  ++c.checkpoint_saves;
  c.checkpoint_save_seconds += total_seconds;
  c.checkpoint_stall_seconds += stall_seconds;
  c.last_checkpoint_save_seconds = total_seconds;
}

LibraryCounters SnapshotCounters() {
  std::lock_guard<std::mutex> lock(CountersMutex());
  return Counters();
}

}  // namespace train::internal
