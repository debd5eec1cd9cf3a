// Reading batches ahead on a background thread, in the order they were asked for.
#ifndef TRAIN_DATA_PREFETCHER_H_
#define TRAIN_DATA_PREFETCHER_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "train/dataset.h"

namespace train::internal {

class Prefetcher {
 public:
  using ReadFn = std::function<Result<Batch>(const std::vector<std::uint64_t>&)>;

  // `read` runs on the background thread, one request at a time. depth >= 1.
  Prefetcher(ReadFn read, std::size_t depth);
  // Waits for the read in progress; requests not started yet are dropped.
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Queues a request; blocks while `depth` are outstanding (queued, being read, or read and
  // not yet popped), up to `timeout`: DEADLINE_EXCEEDED.
  Status Push(std::vector<std::uint64_t> indices, std::chrono::milliseconds timeout);
  // The result of the oldest request, waiting for it; FAILED_PRECONDITION when none is
  // outstanding.
  Result<Batch> Pop();
  std::size_t outstanding() const;

 private:
  void Run();
  std::size_t OutstandingLocked() const { return requests_.size() + reading_ + results_.size(); }

  const ReadFn read_;
  const std::size_t depth_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::vector<std::uint64_t>> requests_;  // not started yet, oldest first
  std::size_t reading_ = 0;                          // 1 while the thread reads
  std::deque<Result<Batch>> results_;                // done, oldest first
  bool stop_ = false;
  std::thread thread_;  // started by the first Push
};

}  // namespace train::internal

#endif  // TRAIN_DATA_PREFETCHER_H_
