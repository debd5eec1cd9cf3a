#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "train/store.h"

namespace train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PrefixStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> base_ = NewInMemoryStore();
  std::unique_ptr<Store> round3_ = NewPrefixStore("job/round-3/", base_.get());
  std::unique_ptr<Store> round4_ = NewPrefixStore("job/round-4/", base_.get());
};

TEST_F(PrefixStoreTest, KeysLandUnderThePrefixInTheBase) {
  ASSERT_TRUE(round3_->Set("rank/0", "a").ok());
  EXPECT_EQ(*base_->TryGet("job/round-3/rank/0"), std::optional<std::string>("a"));
  EXPECT_EQ(*round3_->TryGet("rank/0"), std::optional<std::string>("a"));
  EXPECT_EQ(*round3_->Get("rank/0", Milliseconds(0)), "a");
}

TEST_F(PrefixStoreTest, RoundsDoNotSeeEachOther) {
  ASSERT_TRUE(round3_->Set("leader", "node0").ok());
  EXPECT_EQ(*round4_->TryGet("leader"), std::nullopt);
  EXPECT_EQ(*round4_->CompareSet("leader", std::nullopt, "node1"),
            std::optional<std::string>("node1"));
  EXPECT_EQ(*round3_->TryGet("leader"), std::optional<std::string>("node0"));
}

TEST_F(PrefixStoreTest, KeysAreListedWithoutThePrefixAndOnlyWithinIt) {
  ASSERT_TRUE(round3_->Set("members/node1", "1").ok());
  ASSERT_TRUE(round3_->Set("members/node0", "1").ok());
  ASSERT_TRUE(round4_->Set("members/node9", "1").ok());
  ASSERT_TRUE(base_->Set("job/round-30/members/x", "1").ok());
  EXPECT_THAT(*round3_->Keys("members/"), ElementsAre("members/node0", "members/node1"));
  EXPECT_THAT(*round3_->Keys(""), ElementsAre("members/node0", "members/node1"));
}

TEST_F(PrefixStoreTest, AddWaitAndDeleteAreScoped) {
  EXPECT_EQ(*round3_->Add("count", 2), 2);
  EXPECT_EQ(*base_->TryGet("job/round-3/count"), std::optional<std::string>("2"));
  EXPECT_TRUE(round3_->Wait({"count"}, Milliseconds(0)).ok());
  EXPECT_EQ(round4_->Wait({"count"}, Milliseconds(0)).code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(*round3_->Delete("count"));
  EXPECT_EQ(*base_->TryGet("job/round-3/count"), std::nullopt);
}

TEST_F(PrefixStoreTest, DeadlineNamesTheFullKey) {
  Status status = round3_->Wait({"rank/5"}, Milliseconds(10));
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("'job/round-3/rank/5'"));
}

TEST_F(PrefixStoreTest, InheritsTheBaseDefaultTimeout) {
  base_->set_default_timeout(Milliseconds(15));
  std::unique_ptr<Store> scoped = NewPrefixStore("p/", base_.get());
  EXPECT_EQ(scoped->default_timeout(), Milliseconds(15));
  EXPECT_EQ(scoped->Get("never").status().code(), StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace train
