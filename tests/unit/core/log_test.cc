#include "train/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace train {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseLogLevelTest, AcceptsEveryLevelName) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(*ParseLogLevel("off"), LogLevel::kOff);
}

TEST(ParseLogLevelTest, RejectsUnknownNamesAndListsTheValidOnes) {
  for (const char* bad : {"verbose", "", "INFO ", "Info"}) {
    Result<LogLevel> level = ParseLogLevel(bad);
    ASSERT_FALSE(level.ok()) << bad;
    EXPECT_EQ(level.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(level.status().message(), HasSubstr("\"" + std::string(bad) + "\""));
    EXPECT_THAT(level.status().message(), HasSubstr("debug, info, warning, error, off"));
  }
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogLevel(LogLevel::kInfo); }
  void TearDown() override {
    SetLogRank(-1);
    SetLogLevel(LogLevel::kInfo);
  }

  // What one call to Log wrote to stderr.
  static std::string Captured(LogLevel level, const std::string& message) {
    ::testing::internal::CaptureStderr();
    Log(level, message);
    return ::testing::internal::GetCapturedStderr();
  }
};

TEST_F(LogTest, LineCarriesTheRankAfterSetLogRank) {
  SetLogRank(3);
  const std::string out = Captured(LogLevel::kInfo, "epoch 1 loss 0.41");
  EXPECT_THAT(out, HasSubstr("[rank 3] [info] epoch 1 loss 0.41"));
  EXPECT_EQ(out.back(), '\n');
}

TEST_F(LogTest, NegativeRankRemovesThePrefix) {
  SetLogRank(3);
  SetLogRank(-1);
  const std::string out = Captured(LogLevel::kWarning, "slow step");
  EXPECT_THAT(out, HasSubstr("slow step"));
  EXPECT_THAT(out, Not(HasSubstr("[rank")));
}

TEST_F(LogTest, LevelFiltersLowerLines) {
  SetLogLevel(LogLevel::kWarning);
  EXPECT_EQ(GetLogLevel(), LogLevel::kWarning);
  EXPECT_EQ(Captured(LogLevel::kInfo, "hidden"), "");
  EXPECT_THAT(Captured(LogLevel::kError, "shown"), HasSubstr("shown"));
}

TEST_F(LogTest, OffSilencesEverything) {
  SetLogLevel(LogLevel::kOff);
  ::testing::internal::CaptureStderr();
  LogError("not printed");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(LogTest, HelpersLogAtTheirLevel) {
  SetLogLevel(LogLevel::kDebug);
  ::testing::internal::CaptureStderr();
  LogDebug("d");
  LogWarning("w");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, HasSubstr("[debug] d"));
  EXPECT_THAT(out, HasSubstr("[warning] w"));
}

}  // namespace
}  // namespace train
