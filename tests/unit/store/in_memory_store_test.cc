#include "store/in_memory_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../../fake_clock.h"
#include "store/store_state.h"
#include "train/store.h"

namespace train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

class InMemoryStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> store_ = NewInMemoryStore();
};

TEST_F(InMemoryStoreTest, SetThenGetAndTryGet) {
  ASSERT_TRUE(store_->Set("addr/0", "10.0.0.1:4000").ok());
  EXPECT_EQ(*store_->Get("addr/0", Milliseconds(0)), "10.0.0.1:4000");
  EXPECT_EQ(*store_->TryGet("addr/0"), std::optional<std::string>("10.0.0.1:4000"));
  EXPECT_EQ(*store_->TryGet("addr/1"), std::nullopt);
}

TEST_F(InMemoryStoreTest, MultiGetReadsManyKeysInOrder) {
  ASSERT_TRUE(store_->Set("m/1", "one").ok());
  ASSERT_TRUE(store_->Set("m/3", "three").ok());
  auto values = store_->MultiGet({"m/3", "m/2", "m/1"});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre(std::optional<std::string>("three"), std::nullopt,
                                   std::optional<std::string>("one")));
  EXPECT_THAT(*store_->MultiGet({}), IsEmpty());
  EXPECT_FALSE(store_->MultiGet({"ok", "bad key"}).ok()) << "every key is checked";
}

TEST_F(InMemoryStoreTest, ValuesAreArbitraryBytes) {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  ASSERT_TRUE(store_->Set("blob", bytes).ok());
  EXPECT_EQ(*store_->Get("blob"), bytes);
  ASSERT_TRUE(store_->Set("empty", "").ok());
  EXPECT_EQ(*store_->TryGet("empty"), std::optional<std::string>(""));
}

TEST_F(InMemoryStoreTest, InvalidKeysAreRefusedByEveryOperation) {
  EXPECT_EQ(store_->Set("has space", "v").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->TryGet("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get("tab\t", Milliseconds(10)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Wait({"ok", "not ok"}, Milliseconds(10)).code(), StatusCode::kInvalidArgument);
}

TEST_F(InMemoryStoreTest, BlockingGetIsReleasedBySetFromAnotherThread) {
  std::thread setter([&] {
    std::this_thread::sleep_for(Milliseconds(20));
    ASSERT_TRUE(store_->Set("master", "node0:29500").ok());
  });
  const auto start = Clock::now();
  Result<std::string> value = store_->Get("master", std::chrono::seconds(10));
  const auto elapsed = Clock::now() - start;
  setter.join();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "node0:29500");
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(InMemoryStoreTest, GetDeadlineNamesTheMissingKey) {
  const auto start = Clock::now();
  Result<std::string> value = store_->Get("rank/7/addr", Milliseconds(30));
  EXPECT_GE(Clock::now() - start, Milliseconds(30));
  ASSERT_EQ(value.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(value.status().message(),
              HasSubstr("timed out after 30 ms waiting for key 'rank/7/addr'"));
}

TEST_F(InMemoryStoreTest, GetWithoutTimeoutUsesTheDefault) {
  store_->set_default_timeout(Milliseconds(20));
  Result<std::string> value = store_->Get("x");
  EXPECT_EQ(value.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(value.status().message(), HasSubstr("20 ms"));
  EXPECT_EQ(store_->Wait({"x"}).code(), StatusCode::kDeadlineExceeded);
}

TEST_F(InMemoryStoreTest, WaitReturnsOnceEveryKeyIsSet) {
  std::thread setter([&] {
    for (const char* key : {"a", "b", "c"}) {
      std::this_thread::sleep_for(Milliseconds(5));
      ASSERT_TRUE(store_->Set(key, "1").ok());
    }
  });
  EXPECT_TRUE(store_->Wait({"a", "b", "c"}, std::chrono::seconds(10)).ok());
  setter.join();
  EXPECT_TRUE(store_->Wait({}, Milliseconds(0)).ok());
}

TEST_F(InMemoryStoreTest, WaitDeadlineNamesOnlyTheMissingKeys) {
  ASSERT_TRUE(store_->Set("rank/0", "up").ok());
  ASSERT_TRUE(store_->Set("rank/2", "up").ok());
  Status status = store_->Wait({"rank/0", "rank/1", "rank/2", "rank/3"}, Milliseconds(20));
  ASSERT_EQ(status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("2 of 4 keys: 'rank/1', 'rank/3'"));
  EXPECT_THAT(status.message(), Not(HasSubstr("'rank/0'")));
}

TEST_F(InMemoryStoreTest, AddCountsFromZeroAndReturnsTheNewValue) {
  EXPECT_EQ(*store_->Add("arrived", 1), 1);
  EXPECT_EQ(*store_->Add("arrived", 4), 5);
  EXPECT_EQ(*store_->Add("arrived", -7), -2);
  EXPECT_EQ(*store_->TryGet("arrived"), std::optional<std::string>("-2"));
  ASSERT_TRUE(store_->Set("preset", "41").ok());
  EXPECT_EQ(*store_->Add("preset", 1), 42);
}

TEST_F(InMemoryStoreTest, TicketsCountFromOneAndTheirCountIsReadable) {
  EXPECT_EQ(*store_->TicketsTaken("line"), 0);
  EXPECT_EQ(*store_->TakeTicket("line"), 1);
  EXPECT_EQ(*store_->TakeTicket("line"), 2);
  EXPECT_EQ(*store_->TicketsTaken("line"), 2);
  EXPECT_EQ(store_->TakeTicket("bad key").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(InMemoryStoreTest, AddOnANonIntegerNamesTheKeyAndValue) {
  for (const char* bad : {"abc", "12abc", " 1", "1.5", ""}) {
    ASSERT_TRUE(store_->Set("k", bad).ok());
    Result<std::int64_t> sum = store_->Add("k", 1);
    ASSERT_EQ(sum.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(sum.status().message(), HasSubstr("key 'k'"));
    EXPECT_THAT(sum.status().message(), HasSubstr("'" + std::string(bad) + "'"));
    EXPECT_EQ(*store_->TryGet("k"), std::optional<std::string>(bad)) << "left unchanged";
  }
}

TEST_F(InMemoryStoreTest, AddThatOverflowsIsRefused) {
  ASSERT_TRUE(store_->Set("big", std::to_string(std::numeric_limits<std::int64_t>::max())).ok());
  Result<std::int64_t> sum = store_->Add("big", 1);
  EXPECT_EQ(sum.status().code(), StatusCode::kOutOfRange);
  EXPECT_THAT(sum.status().message(), HasSubstr("overflows"));
}

TEST_F(InMemoryStoreTest, CompareSetWithAbsentExpectedCreatesOnlyIfAbsent) {
  EXPECT_EQ(*store_->CompareSet("leader", std::nullopt, "node0"),
            std::optional<std::string>("node0"));
  // Someone else already holds it: the current value comes back, nothing changes.
  EXPECT_EQ(*store_->CompareSet("leader", std::nullopt, "node1"),
            std::optional<std::string>("node0"));
  EXPECT_EQ(*store_->TryGet("leader"), std::optional<std::string>("node0"));
}

TEST_F(InMemoryStoreTest, CompareSetSwapsOnlyOnAMatch) {
  ASSERT_TRUE(store_->Set("round", "r1").ok());
  EXPECT_EQ(*store_->CompareSet("round", "r0", "r2"), std::optional<std::string>("r1"));
  EXPECT_EQ(*store_->TryGet("round"), std::optional<std::string>("r1"));
  EXPECT_EQ(*store_->CompareSet("round", "r1", "r2"), std::optional<std::string>("r2"));
  EXPECT_EQ(*store_->TryGet("round"), std::optional<std::string>("r2"));
  // Expecting a value on an absent key: no swap, and the answer says it is absent.
  EXPECT_EQ(*store_->CompareSet("nothing", "x", "y"), std::nullopt);
  EXPECT_EQ(*store_->TryGet("nothing"), std::nullopt);
}

TEST_F(InMemoryStoreTest, DeleteSaysWhetherTheKeyExisted) {
  ASSERT_TRUE(store_->Set("k", "v").ok());
  EXPECT_TRUE(*store_->Delete("k"));
  EXPECT_FALSE(*store_->Delete("k"));
  EXPECT_EQ(*store_->TryGet("k"), std::nullopt);
}

TEST_F(InMemoryStoreTest, KeysListsThoseWithThePrefixSorted) {
  for (const char* key :
       {"members/node2", "members/node0", "members/node1", "membership", "other/x"}) {
    ASSERT_TRUE(store_->Set(key, "1").ok());
  }
  EXPECT_THAT(*store_->Keys("members/"),
              ElementsAre("members/node0", "members/node1", "members/node2"));
  EXPECT_THAT(*store_->Keys("members"),
              ElementsAre("members/node0", "members/node1", "members/node2", "membership"));
  EXPECT_THAT(*store_->Keys("none/"), IsEmpty());
  EXPECT_EQ(store_->Keys("").value().size(), 5u);
}

TEST(InMemoryStoreTtlTest, HeartbeatExpiresOnTheInjectedClock) {
  testing::FakeClock clock;
  auto state = std::make_shared<internal::StoreState>(StoreLimits{}, &clock);
  std::unique_ptr<Store> store = internal::NewInMemoryStore(state);
  ASSERT_TRUE(store->Set("heartbeat/node1", "t=1", std::chrono::seconds(30)).ok());
  clock.Advance(std::chrono::seconds(29));
  EXPECT_THAT(*store->Keys("heartbeat/"), ElementsAre("heartbeat/node1"));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_THAT(*store->Keys("heartbeat/"), IsEmpty());
  EXPECT_EQ(*store->TryGet("heartbeat/node1"), std::nullopt);
}

TEST(InMemoryStoreLimitsTest, LimitsOfTheStateApply) {
  StoreLimits limits;
  limits.max_value_bytes = 4;
  std::unique_ptr<Store> store =
      internal::NewInMemoryStore(std::make_shared<internal::StoreState>(limits));
  Status status = store->Set("k", "12345");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("StoreLimits.max_value_bytes"));
}

// Ranks as threads: every rank checks in with Add, the last one opens the barrier, and all
// wait for it (the shape of a rendezvous round).
TEST(InMemoryStoreRanksTest, EightRanksMeetAtABarrier) {
  constexpr int kRanks = 8;
  std::unique_ptr<Store> store = NewInMemoryStore();
  std::vector<Status> results(kRanks);
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < kRanks; ++rank) {
    ranks.emplace_back([&, rank] {
      Result<std::int64_t> arrived = store->Add("barrier/arrived", 1);
      if (!arrived.ok()) {
        results[rank] = arrived.status();
        return;
      }
      if (*arrived == kRanks) {
        results[rank] = store->Set("barrier/open", "1");
        if (!results[rank].ok()) return;
      }
      results[rank] = store->Wait({"barrier/open"}, std::chrono::seconds(10));
    });
  }
  for (std::thread& rank : ranks) rank.join();
  for (int rank = 0; rank < kRanks; ++rank) EXPECT_TRUE(results[rank].ok()) << results[rank];
  EXPECT_EQ(*store->TryGet("barrier/arrived"), std::optional<std::string>("8"));
}

}  // namespace
}  // namespace train
