// How long a StoreServer takes to hand one value to many parked Get requests (the last step of
// every rendezvous round, whose record each agent waits for), and one request on its own.
#ifndef BENCH_STORE_FANOUT_H_
#define BENCH_STORE_FANOUT_H_

#include <cstddef>

#include "train/status.h"

namespace bench {

struct FanoutResult {
  double set_s = 0;  // the Set that wakes them, until it returned
  double all_s = 0;  // the same Set's start until every waiter had the value
};

// `waiters` clients (threads, one connection each) park a Get on one key; then one more client
// sets it to `bytes` bytes.
train::Result<FanoutResult> MeasureFanout(int waiters, std::size_t bytes);

// Seconds per call of `calls` sequential TryGets from one client on an otherwise idle server:
// the floor under every store call of a launch.
train::Result<double> MeasureRoundTrip(int calls);

}  // namespace bench

#endif  // BENCH_STORE_FANOUT_H_
