#include "names.h"

#include <gtest/gtest.h>

#include <string>

#include "suggest.h"

namespace trainctl::spec {
namespace {

TEST(Names, Dns1123Label) {
  EXPECT_EQ(CheckDns1123Label("fashion-mnist"), "");
  EXPECT_EQ(CheckDns1123Label("a1"), "");
  EXPECT_NE(CheckDns1123Label(""), "");
  EXPECT_NE(CheckDns1123Label("-a"), "");
  EXPECT_NE(CheckDns1123Label("a-"), "");
  EXPECT_NE(CheckDns1123Label("Upper"), "");
  EXPECT_NE(CheckDns1123Label(std::string(64, 'a')), "");
}

TEST(Names, LabelKeysAndValues) {
  EXPECT_EQ(CheckLabelKey("app.kubernetes.io/name"), "");
  EXPECT_EQ(CheckLabelKey("team"), "");
  EXPECT_NE(CheckLabelKey("Bad_Prefix/x"), "");
  EXPECT_NE(CheckLabelKey("example.com/"), "");
  EXPECT_EQ(CheckLabelValue(""), "");
  EXPECT_EQ(CheckLabelValue("v1.2_beta-3"), "");
  EXPECT_NE(CheckLabelValue("has space"), "");
}

TEST(Names, EnvNames) {
  EXPECT_EQ(CheckEnvName("OMP_NUM_THREADS"), "");
  EXPECT_EQ(CheckEnvName("_private"), "");
  EXPECT_NE(CheckEnvName("9LIVES"), "");
  EXPECT_NE(CheckEnvName("A-B"), "");
}

TEST(Suggest, FindsTyposButNotUnrelatedWords) {
  std::vector<std::string> fields = {"command", "procsPerNode", "nodes", "rendezvous"};
  EXPECT_EQ(ClosestMatch("procPerNode", fields), "procsPerNode");
  EXPECT_EQ(ClosestMatch("procs_per_node", fields), "procsPerNode");
  EXPECT_EQ(ClosestMatch("rendevous", fields), "rendezvous");
  EXPECT_EQ(ClosestMatch("comand", fields), "command");
  EXPECT_EQ(ClosestMatch("xyzzyplugh", fields), "");
  EXPECT_EQ(JoinAlternatives({"a", "b", "c"}), "a, b or c");
}

}  // namespace
}  // namespace trainctl::spec
