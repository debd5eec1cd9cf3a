#include "data/prefetcher.h"

#include <string>
#include <utility>

namespace train::internal {

Prefetcher::Prefetcher(ReadFn read, std::size_t depth) : read_(std::move(read)), depth_(depth) {
  TRAIN_CHECK_GE(depth_, std::size_t{1});
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Prefetcher::Push(std::vector<std::uint64_t> indices, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto has_room = [&] { return OutstandingLocked() < depth_; };
  if (timeout == std::chrono::milliseconds::max()) {
    changed_.wait(lock, has_room);
  } else if (!changed_.wait_for(lock, timeout, has_room)) {
    return DeadlineExceededError(
        std::to_string(depth_) + " batches are already queued (prefetch_depth " +
        std::to_string(depth_) + ") and none was taken within " + std::to_string(timeout.count()) +
        " ms; call Next() to take one before queueing more");
  }
  requests_.push_back(std::move(indices));
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  lock.unlock();
  changed_.notify_all();
  return Status::Ok();
}

Result<Batch> Prefetcher::Pop() {
  std::unique_lock<std::mutex> lock(mu_);
  if (OutstandingLocked() == 0) {
    return FailedPreconditionError("no batch is queued; call Prefetch(indices) before Next()");
  }
  changed_.wait(lock, [&] { return !results_.empty(); });
  Result<Batch> result = std::move(results_.front());
  results_.pop_front();
  lock.unlock();
  changed_.notify_all();  // a Push may be waiting for room
  return result;
}

std::size_t Prefetcher::outstanding() const {
  std::lock_guard<std::mutex> lock(mu_);
  return OutstandingLocked();
}

void Prefetcher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    changed_.wait(lock, [&] { return stop_ || !requests_.empty(); });
    if (stop_) return;
    std::vector<std::uint64_t> indices = std::move(requests_.front());
    requests_.pop_front();
    reading_ = 1;
    lock.unlock();
    Result<Batch> result = read_(indices);
    lock.lock();
    reading_ = 0;
    results_.push_back(std::move(result));
    changed_.notify_all();
  }
}

}  // namespace train::internal
