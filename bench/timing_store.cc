#include "timing_store.h"

#include <algorithm>
#include <chrono>
#include <iterator>

namespace bench {

const char* StoreCallName(StoreCall call) {
  static constexpr const char* kNames[] = {"set",    "mset",    "get", "tryget", "mget",   "add",
                                           "ticket", "tickets", "cas", "wait",   "delete", "keys"};
  static_assert(std::size(kNames) == static_cast<std::size_t>(StoreCall::kCount));
  return kNames[static_cast<std::size_t>(call)];
}

void CallStats::Add(const CallStats& other) {
  count += other.count;
  total_s += other.total_s;
  max_s = std::max(max_s, other.max_s);
}

template <typename Fn>
auto TimingStore::Timed(StoreCall call, Fn fn) -> decltype(fn()) {
  const auto start = std::chrono::steady_clock::now();
  auto result = fn();
  const auto end = std::chrono::steady_clock::now();
  const double s = std::chrono::duration<double>(end - start).count();
  CallStats& stats = profile_[static_cast<std::size_t>(call)];
  stats.last_start = start;
  stats.last_end = end;
  ++stats.count;
  stats.total_s += s;
  stats.max_s = std::max(stats.max_s, s);
  return result;
}

train::Status TimingStore::Set(std::string_view key, std::string_view value,
                               train::Milliseconds ttl) {
  return Timed(StoreCall::kSet, [&] { return base_->Set(key, value, ttl); });
}

train::Status TimingStore::MultiSet(const std::vector<std::string>& keys,
                                    const std::vector<std::string>& values) {
  return Timed(StoreCall::kMultiSet, [&] { return base_->MultiSet(keys, values); });
}

train::Result<std::string> TimingStore::Get(std::string_view key, train::Milliseconds timeout) {
  return Timed(StoreCall::kGet, [&] { return base_->Get(key, timeout); });
}

train::Result<std::optional<std::string>> TimingStore::TryGet(std::string_view key) {
  return Timed(StoreCall::kTryGet, [&] { return base_->TryGet(key); });
}

train::Result<std::vector<std::optional<std::string>>> TimingStore::MultiGet(
    const std::vector<std::string>& keys) {
  return Timed(StoreCall::kMultiGet, [&] { return base_->MultiGet(keys); });
}

train::Result<std::int64_t> TimingStore::Add(std::string_view key, std::int64_t delta) {
  return Timed(StoreCall::kAdd, [&] { return base_->Add(key, delta); });
}

train::Result<std::int64_t> TimingStore::TakeTicket(std::string_view key) {
  return Timed(StoreCall::kTakeTicket, [&] { return base_->TakeTicket(key); });
}

train::Result<std::int64_t> TimingStore::TicketsTaken(std::string_view key) {
  return Timed(StoreCall::kTicketsTaken, [&] { return base_->TicketsTaken(key); });
}

train::Result<std::optional<std::string>> TimingStore::CompareSet(
    std::string_view key, std::optional<std::string_view> expected, std::string_view desired) {
  return Timed(StoreCall::kCompareSet, [&] { return base_->CompareSet(key, expected, desired); });
}

train::Status TimingStore::Wait(const std::vector<std::string>& keys, train::Milliseconds timeout) {
  return Timed(StoreCall::kWait, [&] { return base_->Wait(keys, timeout); });
}

train::Result<bool> TimingStore::Delete(std::string_view key) {
  return Timed(StoreCall::kDelete, [&] { return base_->Delete(key); });
}

train::Result<std::vector<std::string>> TimingStore::Keys(std::string_view prefix) {
  return Timed(StoreCall::kKeys, [&] { return base_->Keys(prefix); });
}

}  // namespace bench
