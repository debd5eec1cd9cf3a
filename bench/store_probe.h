// Watching a store from outside while a load runs on it: the round trip of one client that has
// nothing to do with the load, and when a key appears.
#ifndef BENCH_STORE_PROBE_H_
#define BENCH_STORE_PROBE_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "train/store.h"

namespace bench {

// Opens one client of the store under test (a store server's, or etcd's), scoped to a job.
using StoreOpener = std::function<train::Result<std::unique_ptr<train::Store>>()>;

// One client, its own connection, sending a TryGet every `every` until stopped and timing
// each: how responsive the store is to a client that is not part of the load.
class RoundTripProbe {
 public:
  RoundTripProbe(const StoreOpener& open, std::chrono::milliseconds every);
  ~RoundTripProbe();
  RoundTripProbe(const RoundTripProbe&) = delete;
  RoundTripProbe& operator=(const RoundTripProbe&) = delete;

  // Stops the probe; the round trips in milliseconds (failed calls count as failures).
  std::vector<double> Stop();
  int failures() const { return failures_; }

 private:
  std::atomic<bool> stopping_{false};
  std::vector<double> trips_ms_;
  int failures_ = 0;
  std::thread thread_;
};

// The time at which `key` appears, watched by a client of its own.
class KeyWatch {
 public:
  KeyWatch(const StoreOpener& open, std::string key);
  ~KeyWatch();
  KeyWatch(const KeyWatch&) = delete;
  KeyWatch& operator=(const KeyWatch&) = delete;

  std::optional<std::chrono::steady_clock::time_point> Join();

 private:
  std::optional<std::chrono::steady_clock::time_point> seen_;
  std::thread thread_;
};

// The `q`-quantile (0..1) of `samples`; 0 without samples.
double Quantile(std::vector<double> samples, double q);

}  // namespace bench

#endif  // BENCH_STORE_PROBE_H_
