#include "duration.h"

#include <gtest/gtest.h>

namespace trainctl::spec {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesKubernetesStyle) {
  EXPECT_EQ(*ParseDuration("500ms"), 500ms);
  EXPECT_EQ(*ParseDuration("2s"), 2s);
  EXPECT_EQ(*ParseDuration("10m"), 10min);
  EXPECT_EQ(*ParseDuration("1h30m"), 90min);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500ms);
  EXPECT_EQ(*ParseDuration("250us"), 250us);
  EXPECT_EQ(*ParseDuration("0"), 0ns);
}

TEST(Duration, RejectsWithAReasonAndAnExample) {
  for (const char* bad : {"", "10", "-1s", "2 s", "1d", "s", "1..5s"}) {
    auto d = ParseDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.status().message().find("e.g. 500ms, 2s"), std::string::npos)
        << d.status().message();
  }
  EXPECT_NE(ParseDuration("1d").status().message().find("unknown unit \"d\""), std::string::npos);
}

TEST(Duration, FormatsTheShortestExactForm) {
  EXPECT_EQ(FormatDuration(0ns), "0s");
  EXPECT_EQ(FormatDuration(500ms), "500ms");
  EXPECT_EQ(FormatDuration(1500ms), "1.5s");
  EXPECT_EQ(FormatDuration(90s), "1m30s");
  EXPECT_EQ(FormatDuration(2h), "2h");
  for (const char* text : {"1h30m", "2s", "750ms", "1m0.25s"}) {
    EXPECT_EQ(*ParseDuration(FormatDuration(*ParseDuration(text))), *ParseDuration(text)) << text;
  }
}

}  // namespace
}  // namespace trainctl::spec
