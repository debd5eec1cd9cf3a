// A Store decorator that counts and times every call, to see where a rendezvous spends its
// time without touching the rendezvous.
#ifndef BENCH_TIMING_STORE_H_
#define BENCH_TIMING_STORE_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "train/store.h"

namespace bench {

enum class StoreCall {
  kSet,
  kMultiSet,
  kGet,
  kTryGet,
  kMultiGet,
  kAdd,
  kTakeTicket,
  kTicketsTaken,
  kCompareSet,
  kWait,
  kDelete,
  kKeys,
  kCount
};
const char* StoreCallName(StoreCall call);

struct CallStats {
  std::int64_t count = 0;
  double total_s = 0;
  double max_s = 0;
  // When the latest call began and returned (steady clock).
  std::chrono::steady_clock::time_point last_start, last_end;
  void Add(const CallStats& other);  // sums; keeps this one's latest call
};
using StoreProfile = std::array<CallStats, static_cast<std::size_t>(StoreCall::kCount)>;

// Forwards to `base` (which must outlive it). Not for concurrent use: one per agent thread.
class TimingStore final : public train::Store {
 public:
  explicit TimingStore(train::Store* base) : base_(base) {}

  const StoreProfile& profile() const { return profile_; }

  using train::Store::Get;
  using train::Store::Wait;

  train::Status Set(std::string_view key, std::string_view value, train::Milliseconds ttl) override;
  train::Status MultiSet(const std::vector<std::string>& keys,
                         const std::vector<std::string>& values) override;
  train::Result<std::string> Get(std::string_view key, train::Milliseconds timeout) override;
  train::Result<std::optional<std::string>> TryGet(std::string_view key) override;
  train::Result<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override;
  train::Result<std::int64_t> Add(std::string_view key, std::int64_t delta) override;
  train::Result<std::int64_t> TakeTicket(std::string_view key) override;
  train::Result<std::int64_t> TicketsTaken(std::string_view key) override;
  train::Result<std::optional<std::string>> CompareSet(std::string_view key,
                                                       std::optional<std::string_view> expected,
                                                       std::string_view desired) override;
  train::Status Wait(const std::vector<std::string>& keys, train::Milliseconds timeout) override;
  train::Result<bool> Delete(std::string_view key) override;
  train::Result<std::vector<std::string>> Keys(std::string_view prefix) override;

 private:
  template <typename Fn>
  auto Timed(StoreCall call, Fn fn) -> decltype(fn());

  train::Store* base_;
  StoreProfile profile_;
};

}  // namespace bench

#endif  // BENCH_TIMING_STORE_H_
