// Where `trainctl agent --host-store` listens: what --store names when it is an address, the
// --store-bind flag (or TRAINCTL_STORE_BIND) when the address to bind differs, and every
// interface only for a name that other hosts use to reach this one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store_endpoint.h"

namespace trainctl::agent {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Env = std::map<std::string, std::string>;

std::string Bind(const std::string& flag, const std::string& host, const Env& env = {}) {
  auto bind = ResolveStoreBind(flag, {host, 29400}, env);
  return bind.ok() ? *bind : "error: " + bind.status().message();
}

TEST(StoreBind, AnAddressInStoreIsWhereTheStoreListens) {
  EXPECT_EQ(Bind("", "127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(Bind("", "10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(Bind("", "::1"), "::1");
  EXPECT_EQ(Bind("", "localhost"), "127.0.0.1");
}

TEST(StoreBind, ANameListensOnEveryInterface) {
  EXPECT_EQ(Bind("", "train-0.train"), "0.0.0.0");
  EXPECT_EQ(Bind("", "node0"), "0.0.0.0");
}

TEST(StoreBind, TheFlagThenTheVariableChooseOtherwise) {
  EXPECT_EQ(Bind("0.0.0.0", "train-0.train"), "0.0.0.0");
  EXPECT_EQ(Bind("127.0.0.1", "train-0.train"), "127.0.0.1");
  EXPECT_EQ(Bind("[::]", "127.0.0.1"), "::");
  EXPECT_EQ(Bind("", "node0", {{"TRAINCTL_STORE_BIND", "10.0.0.5"}}), "10.0.0.5");
  EXPECT_EQ(Bind("127.0.0.1", "node0", {{"TRAINCTL_STORE_BIND", "10.0.0.5"}}), "127.0.0.1");
}

TEST(StoreBind, ANameOrGarbageToBindIsRefusedNamingWhereItCameFrom) {
  EXPECT_THAT(Bind("node0", "node0"),
              AllOf(HasSubstr("error: --store-bind is \"node0\""), HasSubstr("0.0.0.0")));
  EXPECT_THAT(Bind("", "node0", {{"TRAINCTL_STORE_BIND", "1.2.3"}}),
              HasSubstr("error: TRAINCTL_STORE_BIND is \"1.2.3\""));
}

}  // namespace
}  // namespace trainctl::agent
