// The events bench_launch_worker records (launch_worker.cc), read back by the benchmark.
#ifndef BENCH_WORKER_EVENTS_H_
#define BENCH_WORKER_EVENTS_H_

#include <optional>
#include <string>
#include <vector>

#include "train/status.h"

namespace bench {

struct WorkerEvent {
  std::string kind;  // start, init, ready, fail
  int rank = 0;
  int restart = 0;
  long long ns = 0;  // CLOCK_REALTIME
};

// DIR/events; a missing file is an empty list (no worker got that far).
train::Result<std::vector<WorkerEvent>> ReadEvents(const std::string& dir);

// The earliest or latest time of `kind` in attempt `restart`, when all `world` ranks (each
// once) recorded it; nullopt otherwise.
std::optional<long long> FirstOf(const std::vector<WorkerEvent>& events, const std::string& kind,
                                 int restart, int world);
std::optional<long long> LastOf(const std::vector<WorkerEvent>& events, const std::string& kind,
                                int restart, int world);

// The time of `kind` recorded by `rank` in attempt `restart`.
std::optional<long long> TimeOf(const std::vector<WorkerEvent>& events, const std::string& kind,
                                int rank, int restart);

}  // namespace bench

#endif  // BENCH_WORKER_EVENTS_H_
