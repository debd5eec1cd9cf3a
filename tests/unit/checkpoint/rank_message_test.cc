// The messages between the ranks of a save or a load: every kind round-trips, an error keeps
// its code and names its sender, and garbage is DATA_LOSS, never an exception or a crash.
#include "rank_message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace train::internal {
namespace {

TEST(RankMessage, EveryKindRoundTrips) {
  for (const RankMessage& sent :
       {RankMessage::Ok(), RankMessage::Ok("3f2a"), RankMessage::ManifestPart(R"({"files":[]})")}) {
    auto got = RankMessage::Decode(sent.Encode(), 2);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->kind, sent.kind);
    EXPECT_EQ(got->payload, sent.payload);
  }
}

TEST(RankMessage, AnErrorKeepsItsCodeAndNamesItsSender) {
  const Status disk_full = ResourceExhaustedError("no space left: needs 4 GiB: sure?");
  auto got = RankMessage::Decode(RankMessage::Error(disk_full).Encode(), 3);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kind, RankMessage::Kind::kError);
  EXPECT_EQ(got->error.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(got->error.message(), "rank 3: no space left: needs 4 GiB: sure?");
}

TEST(RankMessage, GarbageIsDataLossNamingTheSender) {
  const std::vector<std::string> garbages = {"",
                                             "X",
                                             "Zpayload",
                                             "E",
                                             "E:lost",
                                             "Eabc:lost",
                                             "E0:ok is no error",
                                             "E99:unknown",
                                             "E-3:negative",
                                             "E8",
                                             std::string("\0\0", 2)};
  for (const std::string& garbage : garbages) {
    auto got = RankMessage::Decode(garbage, 5);
    ASSERT_FALSE(got.ok()) << "decoded: " << garbage;
    EXPECT_EQ(got.status().code(), StatusCode::kDataLoss) << got.status();
    EXPECT_NE(got.status().message().find("rank 5"), std::string::npos) << got.status();
  }
}

}  // namespace
}  // namespace train::internal
