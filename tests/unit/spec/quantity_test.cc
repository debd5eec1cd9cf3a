#include "quantity.h"

#include <gtest/gtest.h>

namespace trainctl::spec {
namespace {

TEST(Quantity, ParsesDecimalBinaryAndExponentForms) {
  EXPECT_DOUBLE_EQ(*ParseQuantity("2"), 2.0);
  EXPECT_DOUBLE_EQ(*ParseQuantity("500m"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseQuantity("4Gi"), 4.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*ParseQuantity("1.5G"), 1.5e9);
  EXPECT_DOUBLE_EQ(*ParseQuantity("128Mi"), 128.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*ParseQuantity("1e3"), 1000.0);
}

TEST(Quantity, RejectsWithTheLikelyFix) {
  auto gb = ParseQuantity("4GB");
  ASSERT_FALSE(gb.ok());
  EXPECT_NE(gb.status().message().find("did you mean Gi or G?"), std::string::npos);
  for (const char* bad : {"", "-1", "Gi", "two", "4 Gi", "1x"}) {
    EXPECT_FALSE(ParseQuantity(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace trainctl::spec
