#include "store/in_memory_store.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace train {
namespace internal {
namespace {

// Where a blocked caller waits for its waiter's callback.
struct Rendezvous {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<WaitOutcome> outcome;
};

class InMemoryStore final : public Store {
 public:
  explicit InMemoryStore(std::shared_ptr<StoreState> state) : state_(std::move(state)) {}

  Status Set(std::string_view key, std::string_view value, Milliseconds ttl) override {
    return state_->Set(key, value, ttl);
  }

  Result<std::string> Get(std::string_view key, Milliseconds timeout) override {
    TRAIN_ASSIGN_OR_RETURN(WaitOutcome outcome, Block({std::string(key)}, timeout));
    TRAIN_RETURN_IF_ERROR(outcome.status);
    return std::move(outcome.value);
  }

  Result<std::optional<std::string>> TryGet(std::string_view key) override {
    return state_->TryGet(key);
  }
  Result<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override {
    return state_->MultiGet(keys);
  }

  Status MultiSet(const std::vector<std::string>& keys,
                  const std::vector<std::string>& values) override {
    return state_->MultiSet(keys, values);
  }

  Result<std::int64_t> Add(std::string_view key, std::int64_t delta) override {
    return state_->Add(key, delta);
  }

  Result<std::optional<std::string>> CompareSet(std::string_view key,
                                                std::optional<std::string_view> expected,
                                                std::string_view desired) override {
    return state_->CompareSet(key, expected, desired);
  }

  Status Wait(const std::vector<std::string>& keys, Milliseconds timeout) override {
    TRAIN_ASSIGN_OR_RETURN(WaitOutcome outcome, Block(keys, timeout));
    return outcome.status;
  }

  Result<bool> Delete(std::string_view key) override { return state_->Delete(key); }

  Result<std::vector<std::string>> Keys(std::string_view prefix) override {
    return state_->Keys(prefix);
  }

 private:
  // Parks a waiter and sleeps until its callback fires (keys set, deadline, or close).
  Result<WaitOutcome> Block(std::vector<std::string> keys, Milliseconds timeout) {
    auto rendezvous = std::make_shared<Rendezvous>();
    TRAIN_RETURN_IF_ERROR(
        state_->Watch(std::move(keys), timeout, [rendezvous](WaitOutcome outcome) {
          std::lock_guard<std::mutex> lock(rendezvous->mu);
          rendezvous->outcome = std::move(outcome);
          rendezvous->cv.notify_all();
        }));
    std::unique_lock<std::mutex> lock(rendezvous->mu);
    rendezvous->cv.wait(lock, [&] { return rendezvous->outcome.has_value(); });
    return std::move(*rendezvous->outcome);
  }

  std::shared_ptr<StoreState> state_;
};

}  // namespace

std::unique_ptr<Store> NewInMemoryStore(std::shared_ptr<StoreState> state) {
  return std::make_unique<InMemoryStore>(std::move(state));
}

}  // namespace internal

std::unique_ptr<Store> NewInMemoryStore() {
  return internal::NewInMemoryStore(std::make_shared<internal::StoreState>());
}

}  // namespace train
