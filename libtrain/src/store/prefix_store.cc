// PrefixStore: a decorator that scopes every key to a job or a round.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "train/store.h"

namespace train {
namespace {

class PrefixStore final : public Store {
 public:
  PrefixStore(std::string prefix, Store* base) : prefix_(std::move(prefix)), base_(base) {
    set_default_timeout(base_->default_timeout());
  }

  Status Set(std::string_view key, std::string_view value, Milliseconds ttl) override {
    return base_->Set(Scoped(key), value, ttl);
  }
  Result<std::string> Get(std::string_view key, Milliseconds timeout) override {
    return base_->Get(Scoped(key), timeout);
  }
  Result<std::optional<std::string>> TryGet(std::string_view key) override {
    return base_->TryGet(Scoped(key));
  }
  Result<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override {
    std::vector<std::string> scoped;
    scoped.reserve(keys.size());
    for (const std::string& key : keys) scoped.push_back(Scoped(key));
    return base_->MultiGet(scoped);
  }
  Status MultiSet(const std::vector<std::string>& keys,
                  const std::vector<std::string>& values) override {
    std::vector<std::string> scoped;
    scoped.reserve(keys.size());
    for (const std::string& key : keys) scoped.push_back(Scoped(key));
    return base_->MultiSet(scoped, values);
  }
  Result<std::int64_t> Add(std::string_view key, std::int64_t delta) override {
    return base_->Add(Scoped(key), delta);
  }
  Result<std::int64_t> TakeTicket(std::string_view key) override {
    return base_->TakeTicket(Scoped(key));
  }
  Result<std::int64_t> TicketsTaken(std::string_view key) override {
    return base_->TicketsTaken(Scoped(key));
  }
  Result<std::optional<std::string>> CompareSet(std::string_view key,
                                                std::optional<std::string_view> expected,
                                                std::string_view desired) override {
    return base_->CompareSet(Scoped(key), expected, desired);
  }
  Status Wait(const std::vector<std::string>& keys, Milliseconds timeout) override {
    std::vector<std::string> scoped;
    scoped.reserve(keys.size());
    for (const std::string& key : keys) scoped.push_back(Scoped(key));
    return base_->Wait(scoped, timeout);
  }
  Result<bool> Delete(std::string_view key) override { return base_->Delete(Scoped(key)); }
  Result<std::vector<std::string>> Keys(std::string_view prefix) override {
    TRAIN_ASSIGN_OR_RETURN(std::vector<std::string> keys, base_->Keys(Scoped(prefix)));
    for (std::string& key : keys) key.erase(0, prefix_.size());
    return keys;
  }

 private:
  std::string Scoped(std::string_view key) const { return prefix_ + std::string(key); }

  const std::string prefix_;
  Store* const base_;
};

}  // namespace

std::unique_ptr<Store> NewPrefixStore(std::string prefix, Store* base) {
  TRAIN_CHECK(base != nullptr);
  return std::make_unique<PrefixStore>(std::move(prefix), base);
}

}  // namespace train
