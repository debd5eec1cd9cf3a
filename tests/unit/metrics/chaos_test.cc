// --chaos values: what parses, and the errors users see for what does not.
#include "chaos.h"

#include "gtest/gtest.h"

namespace trainctl::agent {
namespace {

TEST(ChaosRuleTest, ParsesEachAction) {
  auto kill = ParseChaosRule("kill:rank=1:step=5");
  ASSERT_TRUE(kill.ok()) << kill.status();
  EXPECT_EQ(kill->action, ChaosAction::kKill);
  EXPECT_EQ(kill->rank, 1);
  EXPECT_EQ(kill->step, 5);
  auto stop = ParseChaosRule("stop:step=20:rank=0");  // parts in any order
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_EQ(stop->action, ChaosAction::kStop);
  EXPECT_EQ(stop->rank, 0);
  EXPECT_EQ(stop->step, 20);
  auto agent = ParseChaosRule("kill-agent:rank=3:step=100000000000");
  ASSERT_TRUE(agent.ok()) << agent.status();
  EXPECT_EQ(agent->action, ChaosAction::kKillAgent);
  EXPECT_EQ(agent->step, 100000000000);
}

TEST(ChaosRuleTest, ToStringRoundTrips) {
  for (const char* text :
       {"kill:rank=1:step=5", "stop:rank=0:step=0", "kill-agent:rank=2:step=9"}) {
    auto rule = ParseChaosRule(text);
    ASSERT_TRUE(rule.ok()) << rule.status();
    EXPECT_EQ(rule->ToString(), text);
  }
  std::vector<ChaosRule> rules = {{ChaosAction::kKill, 1, 5}, {ChaosAction::kStop, 0, 7}};
  auto decoded = DecodeChaosRules(EncodeChaosRules(rules));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, rules);
}

// Each bad value: the error quotes the value, names the part, and shows a valid example.
void ExpectError(const std::string& text, const std::string& names) {
  auto rule = ParseChaosRule(text);
  ASSERT_FALSE(rule.ok()) << text;
  EXPECT_EQ(rule.status().code(), train::StatusCode::kInvalidArgument);
  const std::string& message = rule.status().message();
  EXPECT_NE(message.find("\"" + text + "\""), std::string::npos) << message;
  EXPECT_NE(message.find(names), std::string::npos) << message;
  EXPECT_NE(message.find("kill:rank=1:step=50"), std::string::npos) << message;
}

TEST(ChaosRuleTest, BadValuesNameThePartAndTheFix) {
  ExpectError("kil:rank=1:step=5", "the action \"kil\" is not one of kill");
  ExpectError("", "the action \"\"");
  ExpectError("kill:rank=1", "step=S");
  ExpectError("kill:step=5", "rank=R");
  ExpectError("kill:rank=-1:step=5", "rank must be a whole number >= 0");
  ExpectError("kill:rank=1:step=five", "step must be a whole number >= 0");
  ExpectError("kill:rank=1:step=", "step must be");
  ExpectError("kill:rank=1:step=5:rank=2", "\"rank\" is given twice");
  ExpectError("kill:rank=1:at=5", "the part \"at=5\" is not rank=R or step=S");
  ExpectError("kill,rank=1,step=5", "the action \"kill,rank=1,step=5\"");
}

TEST(ChaosRuleTest, ChecksRulesAgainstTheJob) {
  EXPECT_TRUE(CheckChaosRules({{ChaosAction::kKill, 3, 5}}, 4, 1).ok());
  auto status = CheckChaosRules({{ChaosAction::kKill, 4, 5}}, 4, 1);
  EXPECT_NE(status.message().find("rank 4 does not exist"), std::string::npos) << status;
  EXPECT_NE(status.message().find("from 0 to 3"), std::string::npos) << status;
  status = CheckChaosRules({{ChaosAction::kKillAgent, 0, 5}}, 4, 1);
  EXPECT_NE(status.message().find("--nnodes 2"), std::string::npos) << status;
  EXPECT_TRUE(CheckChaosRules({{ChaosAction::kKillAgent, 3, 5}}, 4, 2).ok());
}

}  // namespace
}  // namespace trainctl::agent
