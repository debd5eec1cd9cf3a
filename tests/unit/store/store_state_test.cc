#include "store/store_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../../fake_clock.h"

namespace train::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using testing::FakeClock;

// Records the outcome a waiter's callback receives.
struct Recorder {
  std::optional<WaitOutcome> outcome;
  int calls = 0;
  WaitCallback Callback() {
    return [this](WaitOutcome got) {
      outcome = std::move(got);
      ++calls;
    };
  }
};

class StoreStateTest : public ::testing::Test {
 protected:
  StoreState& state() { return *state_; }
  void Reset(StoreLimits limits) {
    state_.reset();
    state_ = std::make_unique<StoreState>(limits, &clock_);
  }

  FakeClock clock_;
  std::unique_ptr<StoreState> state_ = std::make_unique<StoreState>(StoreLimits{}, &clock_);
};

TEST_F(StoreStateTest, KeyWithTtlDisappearsWhenItExpires) {
  ASSERT_TRUE(state().Set("heartbeat/node0", "alive", Milliseconds(100)).ok());
  clock_.Advance(Milliseconds(99));
  EXPECT_EQ(*state().TryGet("heartbeat/node0"), std::optional<std::string>("alive"));
  EXPECT_THAT(*state().Keys("heartbeat/"), ElementsAre("heartbeat/node0"));

  clock_.Advance(Milliseconds(1));
  EXPECT_EQ(*state().TryGet("heartbeat/node0"), std::nullopt);
  EXPECT_THAT(*state().Keys("heartbeat/"), IsEmpty());
  EXPECT_EQ(state().key_count(), 0u);  // purged, not only hidden
  EXPECT_FALSE(*state().Delete("heartbeat/node0"));
}

TEST_F(StoreStateTest, SettingAgainRenewsTheTtlLikeAHeartbeat) {
  ASSERT_TRUE(state().Set("hb", "1", Milliseconds(100)).ok());
  clock_.Advance(Milliseconds(60));
  ASSERT_TRUE(state().Set("hb", "2", Milliseconds(100)).ok());
  clock_.Advance(Milliseconds(60));
  EXPECT_EQ(*state().TryGet("hb"), std::optional<std::string>("2"));
  clock_.Advance(Milliseconds(40));
  EXPECT_EQ(*state().TryGet("hb"), std::nullopt);
}

TEST_F(StoreStateTest, SetWithoutTtlMakesAKeyPermanent) {
  ASSERT_TRUE(state().Set("k", "1", Milliseconds(10)).ok());
  ASSERT_TRUE(state().Set("k", "2", kNoTtl).ok());
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(*state().TryGet("k"), std::optional<std::string>("2"));
}

TEST_F(StoreStateTest, AddAndCompareSetKeepTheKeysExpiry) {
  ASSERT_TRUE(state().Set("count", "1", Milliseconds(100)).ok());
  ASSERT_TRUE(state().Set("owner", "a", Milliseconds(100)).ok());
  EXPECT_EQ(*state().Add("count", 1), 2);
  EXPECT_EQ(*state().CompareSet("owner", "a", "b"), std::optional<std::string>("b"));
  clock_.Advance(Milliseconds(100));
  EXPECT_EQ(*state().TryGet("count"), std::nullopt);
  EXPECT_EQ(*state().TryGet("owner"), std::nullopt);
}

TEST_F(StoreStateTest, NegativeTtlIsRefused) {
  Status status = state().Set("k", "v", Milliseconds(-1));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("-1 ms"));
}

TEST_F(StoreStateTest, WaiterIsCompletedByTheSetThatProvidesItsKey) {
  Recorder recorder;
  ASSERT_TRUE(state().Watch({"rank/1"}, Milliseconds(1000), recorder.Callback()).ok());
  EXPECT_EQ(recorder.calls, 0);
  EXPECT_EQ(state().waiter_count(), 1u);

  ASSERT_TRUE(state().Set("rank/1", "host-b", kNoTtl).ok());
  ASSERT_EQ(recorder.calls, 1);
  EXPECT_TRUE(recorder.outcome->status.ok());
  EXPECT_EQ(recorder.outcome->value, "host-b");
  EXPECT_EQ(state().waiter_count(), 0u);
}

TEST_F(StoreStateTest, WaiterOnKeysAlreadySetCompletesBeforeWatchReturns) {
  ASSERT_TRUE(state().Set("a", "1", kNoTtl).ok());
  Recorder recorder;
  ASSERT_TRUE(state().Watch({"a"}, Milliseconds(0), recorder.Callback()).ok());
  ASSERT_EQ(recorder.calls, 1);
  EXPECT_EQ(recorder.outcome->value, "1");
}

TEST_F(StoreStateTest, AddAndCompareSetAlsoReleaseWaiters) {
  Recorder by_add;
  Recorder by_cas;
  ASSERT_TRUE(state().Watch({"n"}, Milliseconds(1000), by_add.Callback()).ok());
  ASSERT_TRUE(state().Watch({"leader"}, Milliseconds(1000), by_cas.Callback()).ok());
  ASSERT_TRUE(state().Add("n", 5).ok());
  ASSERT_TRUE(state().CompareSet("leader", std::nullopt, "node3").ok());
  EXPECT_EQ(by_add.outcome->value, "5");
  EXPECT_EQ(by_cas.outcome->value, "node3");
}

TEST_F(StoreStateTest, DeadlineNamesOnlyTheKeysStillMissing) {
  Recorder recorder;
  ASSERT_TRUE(state().Watch({"a", "b", "c"}, Milliseconds(100), recorder.Callback()).ok());
  ASSERT_TRUE(state().Set("a", "1", kNoTtl).ok());
  clock_.Advance(Milliseconds(99));
  state().Tick();
  EXPECT_EQ(recorder.calls, 0);

  clock_.Advance(Milliseconds(1));
  state().Tick();
  ASSERT_EQ(recorder.calls, 1);
  EXPECT_EQ(recorder.outcome->status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(recorder.outcome->missing, ElementsAre("b", "c"));
  EXPECT_THAT(recorder.outcome->status.message(),
              HasSubstr("timed out after 100 ms waiting for 2 of 3 keys: 'b', 'c'"));
  EXPECT_EQ(state().waiter_count(), 0u);
}

TEST_F(StoreStateTest, ZeroTimeoutAnswersAtOnce) {
  Recorder recorder;
  ASSERT_TRUE(state().Watch({"absent"}, Milliseconds(0), recorder.Callback()).ok());
  ASSERT_EQ(recorder.calls, 1);
  EXPECT_EQ(recorder.outcome->status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(recorder.outcome->status.message(), HasSubstr("key 'absent'"));
}

TEST_F(StoreStateTest, WaiterNeedsEveryKeySetAtOnce) {
  Recorder recorder;
  ASSERT_TRUE(state().Watch({"a", "b"}, Milliseconds(1000), recorder.Callback()).ok());
  ASSERT_TRUE(state().Set("a", "1", kNoTtl).ok());
  ASSERT_TRUE(state().Delete("a").ok());
  ASSERT_TRUE(state().Set("b", "2", kNoTtl).ok());
  EXPECT_EQ(recorder.calls, 0) << "'a' was deleted before 'b' was set";
  ASSERT_TRUE(state().Set("a", "3", kNoTtl).ok());
  ASSERT_EQ(recorder.calls, 1);
  EXPECT_TRUE(recorder.outcome->status.ok());
}

TEST_F(StoreStateTest, OneSetReleasesThousandsOfWaiters) {
  constexpr int kWaiters = 10000;
  std::atomic<int> released{0};
  for (int i = 0; i < kWaiters; ++i) {
    ASSERT_TRUE(state()
                    .Watch({"go"}, Milliseconds(60000),
                           [&](WaitOutcome outcome) {
                             if (outcome.status.ok() && outcome.value == "now") ++released;
                           })
                    .ok());
  }
  EXPECT_EQ(state().waiter_count(), static_cast<std::size_t>(kWaiters));
  ASSERT_TRUE(state().Set("go", "now", kNoTtl).ok());
  EXPECT_EQ(released.load(), kWaiters);
  EXPECT_EQ(state().waiter_count(), 0u);
}

TEST_F(StoreStateTest, ACallbackRunnerGetsTheCallbacksWithTheValueOfTheirWake) {
  std::vector<std::function<void()>> handed;
  state().set_callback_runner(
      [&](std::function<void()> callback) { handed.push_back(std::move(callback)); });
  Recorder first, second;
  ASSERT_TRUE(state().Watch({"go"}, Milliseconds(60000), first.Callback()).ok());
  ASSERT_TRUE(state().Watch({"go"}, Milliseconds(60000), second.Callback()).ok());
  ASSERT_TRUE(state().Set("go", "now", kNoTtl).ok());
  // Finished (no longer counted) but not yet called: the runner decides when.
  EXPECT_EQ(state().waiter_count(), 0u);
  ASSERT_EQ(handed.size(), 2u);
  EXPECT_EQ(first.calls + second.calls, 0);
  ASSERT_TRUE(state().Set("go", "later", kNoTtl).ok());
  for (auto& callback : handed) callback();
  ASSERT_TRUE(first.outcome && second.outcome);
  EXPECT_EQ(first.outcome->value, "now");  // the value that woke it, not the one after
  EXPECT_EQ(second.outcome->value, "now");
  EXPECT_EQ(first.calls + second.calls, 2);
}

TEST_F(StoreStateTest, CloseAnswersEveryWaiterAndRefusesNewOnes) {
  Recorder recorder;
  ASSERT_TRUE(state().Watch({"x"}, Milliseconds(1000), recorder.Callback()).ok());
  state().Close(UnavailableError("server stopping"));
  ASSERT_EQ(recorder.calls, 1);
  EXPECT_EQ(recorder.outcome->status, UnavailableError("server stopping"));
  EXPECT_THAT(recorder.outcome->missing, ElementsAre("x"));

  Recorder late;
  EXPECT_EQ(state().Watch({"x"}, Milliseconds(1000), late.Callback()),
            UnavailableError("server stopping"));
  EXPECT_EQ(late.calls, 0);
}

TEST_F(StoreStateTest, DestroyingTheStateCancelsWaiters) {
  Recorder recorder;
  ASSERT_TRUE(state().Watch({"x"}, Milliseconds(1000), recorder.Callback()).ok());
  state_.reset();
  ASSERT_EQ(recorder.calls, 1);
  EXPECT_EQ(recorder.outcome->status.code(), StatusCode::kCancelled);
}

TEST(StoreStateReaperTest, DeadlinesFireOnTheirOwnWithTheRealClock) {
  StoreState state;
  std::promise<WaitOutcome> done;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      state.Watch({"never"}, Milliseconds(30), [&](WaitOutcome o) { done.set_value(o); }).ok());
  auto future = done.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(future.get().status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, Milliseconds(30));
  EXPECT_LT(elapsed, Milliseconds(1000));
}

// A server answering its last parked request may drop the last reference to its state from
// inside the reaper's callback.
TEST(StoreStateReaperTest, ACallbackMayDestroyTheStateFromTheReaper) {
  auto holder = std::make_shared<std::shared_ptr<StoreState>>(std::make_shared<StoreState>());
  std::weak_ptr<StoreState> watch = *holder;
  std::promise<void> done;
  ASSERT_TRUE((*holder)
                  ->Watch({"never"}, Milliseconds(5),
                          [holder_copy = holder, &done](WaitOutcome) {
                            holder_copy->reset();
                            done.set_value();
                          })
                  .ok());
  holder.reset();
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(watch.expired());
}

TEST_F(StoreStateTest, OversizedValueIsRefusedNamingTheLimit) {
  StoreLimits limits;
  limits.max_value_bytes = 16;
  Reset(limits);
  EXPECT_TRUE(state().Set("k", std::string(16, 'x'), kNoTtl).ok());
  Status status = state().Set("k", std::string(17, 'x'), kNoTtl);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("17 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("limit of 16 bytes (StoreLimits.max_value_bytes)"));
  EXPECT_EQ(state().CompareSet("k", std::string(16, 'x'), std::string(17, 'y')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*state().TryGet("k"), std::optional<std::string>(std::string(16, 'x')));
}

TEST_F(StoreStateTest, LongKeyIsRefusedNamingTheLimit) {
  StoreLimits limits;
  limits.max_key_bytes = 8;
  Reset(limits);
  Status status = state().Set("123456789", "v", kNoTtl);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("9 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("StoreLimits.max_key_bytes"));
}

TEST_F(StoreStateTest, KeyCountLimitCountsOnlyLiveKeys) {
  StoreLimits limits;
  limits.max_keys = 2;
  Reset(limits);
  ASSERT_TRUE(state().Set("a", "1", kNoTtl).ok());
  ASSERT_TRUE(state().Set("b", "1", Milliseconds(10)).ok());
  Status full = state().Set("c", "1", kNoTtl);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("holds 2 keys"));
  EXPECT_THAT(full.message(), HasSubstr("StoreLimits.max_keys"));
  EXPECT_EQ(state().Add("c", 1).status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(state().Set("a", "overwrite is fine", kNoTtl).ok());

  clock_.Advance(Milliseconds(10));  // "b" expires and frees its slot
  EXPECT_TRUE(state().Set("c", "1", kNoTtl).ok());
}

TEST_F(StoreStateTest, MultiSetSetsEveryKeyOrNoneAndWakesWaiters) {
  StoreLimits limits;
  limits.max_keys = 3;
  limits.max_value_bytes = 4;
  Reset(limits);
  Recorder waiter;
  ASSERT_TRUE(state().Watch({"rank/2"}, Milliseconds(1000), waiter.Callback()).ok());
  ASSERT_TRUE(state().MultiSet({"rank/1", "rank/2"}, {"0", "1"}).ok());
  ASSERT_EQ(waiter.calls, 1);
  EXPECT_EQ(waiter.outcome->value, "1");
  EXPECT_EQ(state().TryGet("rank/1").value(), "0");

  // Refused as a whole: one more key than the limit, a value too large, a bad key, a mismatch.
  Status full = state().MultiSet({"rank/1", "rank/3", "rank/4"}, {"9", "9", "9"});
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("StoreLimits.max_keys"));
  EXPECT_EQ(state().MultiSet({"rank/3", "big"}, {"9", "12345"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(state().MultiSet({"rank/3", "bad key"}, {"9", "9"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(state().MultiSet({"rank/3"}, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(state().TryGet("rank/1").value(), "0") << "a refused MultiSet sets nothing";
  EXPECT_EQ(state().TryGet("rank/3").value(), std::nullopt);
}

TEST_F(StoreStateTest, WaiterLimitRefusesParkingMore) {
  StoreLimits limits;
  limits.max_waiters = 2;
  Reset(limits);
  Recorder first;
  Recorder second;
  Recorder third;
  ASSERT_TRUE(state().Watch({"x"}, Milliseconds(1000), first.Callback()).ok());
  ASSERT_TRUE(state().Watch({"x"}, Milliseconds(1000), second.Callback()).ok());
  Status status = state().Watch({"x"}, Milliseconds(1000), third.Callback());
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("StoreLimits.max_waiters"));
  EXPECT_EQ(third.calls, 0);

  // A wait whose keys are already set needs no slot.
  ASSERT_TRUE(state().Set("y", "1", kNoTtl).ok());
  EXPECT_TRUE(state().Watch({"y"}, Milliseconds(1000), third.Callback()).ok());
  EXPECT_EQ(third.calls, 1);

  state().Close(UnavailableError("done"));  // answers the two parked before they go away
  EXPECT_EQ(first.calls + second.calls, 2);
}

TEST_F(StoreStateTest, CancellingAWaiterFreesItsSlotWithoutCallingIt) {
  StoreLimits limits;
  limits.max_waiters = 1;
  Reset(limits);
  auto owned = std::make_shared<int>(7);  // what a parked request's callback holds
  Recorder gone;
  std::uint64_t id = 0;
  WaitCallback callback = [&gone, owned](WaitOutcome outcome) {
    gone.Callback()(std::move(outcome));
  };
  ASSERT_TRUE(state().Watch({"x"}, Milliseconds(60000), std::move(callback), &id).ok());
  ASSERT_NE(id, 0u);
  Recorder refused;
  EXPECT_EQ(state().Watch({"x"}, Milliseconds(1000), refused.Callback()).code(),
            StatusCode::kResourceExhausted);

  state().CancelWatch(id);
  EXPECT_EQ(gone.calls, 0);
  EXPECT_EQ(owned.use_count(), 1) << "the callback and what it held are released";
  EXPECT_EQ(state().waiter_count(), 0u);
  state().CancelWatch(id);  // twice, or after it finished: nothing

  Recorder next;
  std::uint64_t next_id = 0;
  ASSERT_TRUE(state().Watch({"x"}, Milliseconds(1000), next.Callback(), &next_id).ok());
  ASSERT_TRUE(state().Set("x", "v", kNoTtl).ok());
  EXPECT_EQ(next.calls, 1);
  state().CancelWatch(next_id);
  EXPECT_EQ(next.calls, 1);

  std::uint64_t at_once = 99;
  ASSERT_TRUE(state().Watch({"x"}, Milliseconds(1000), next.Callback(), &at_once).ok());
  EXPECT_EQ(at_once, 0u) << "a wait answered at once leaves nothing to cancel";
}

TEST(ValidateKeyTest, AcceptsPrintableAsciiAndRefusesTheRest) {
  EXPECT_TRUE(ValidateKey("job/round-3/rank:0").ok());
  Status empty = ValidateKey("");
  EXPECT_EQ(empty.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.message(), HasSubstr("empty"));
  Status space = ValidateKey("a b");
  EXPECT_THAT(space.message(), HasSubstr("byte 0x20 at offset 1"));
  Status binary = ValidateKey(std::string("a\0b", 3));
  EXPECT_THAT(binary.message(), HasSubstr("'a\\x00b'"));
}

TEST(DeadlineMessageTest, ListsAFewMissingKeysAndCountsTheRest) {
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back("rank/" + std::to_string(i));
  const std::string message = DeadlineMessage(keys, keys, Milliseconds(5000));
  EXPECT_THAT(message, HasSubstr("20 of 20 keys: 'rank/0', 'rank/1'"));
  EXPECT_THAT(message, HasSubstr("and 12 more"));
}

}  // namespace
}  // namespace train::internal
