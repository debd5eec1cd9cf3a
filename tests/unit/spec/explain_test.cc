#include <gtest/gtest.h>

#include "schema_docs.h"

namespace trainctl::spec {
namespace {

TEST(Explain, WholeDocumentListsTopLevelFields) {
  auto text = ExplainField("");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_NE(text->find("KIND:     TrainingJob"), std::string::npos);
  EXPECT_NE(text->find("apiVersion\t<string>"), std::string::npos) << *text;
  EXPECT_NE(text->find("spec\t<TrainingJobSpec>"), std::string::npos) << *text;
}

TEST(Explain, FieldShowsItsCommentTypeAndDefault) {
  auto text = ExplainField("spec.rendezvous.port");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_NE(text->find("FIELD:    spec.rendezvous.port <integer>"), std::string::npos) << *text;
  EXPECT_NE(text->find("Default: 29400."), std::string::npos) << *text;
}

TEST(Explain, MessageFieldListsItsChildren) {
  auto text = ExplainField("spec.failurePolicy");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_NE(text->find("maxRestarts\t<integer>"), std::string::npos) << *text;
  EXPECT_NE(text->find("restartOnExitCodes\t<[]integer>"), std::string::npos) << *text;
  EXPECT_NE(text->find("When to restart."), std::string::npos) << "the message's own comment";
}

TEST(Explain, AcceptsKindPrefixAndListIndexes) {
  auto a = ExplainField("TrainingJob.spec.env[0].name");
  auto b = ExplainField("spec.env.name");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(Explain, UnknownFieldSuggestsTheClosest) {
  auto text = ExplainField("spec.rendezvous.heartbeatTimout");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), train::StatusCode::kNotFound);
  EXPECT_NE(text.status().message().find("did you mean \"heartbeatTimeout\"?"), std::string::npos)
      << text.status();
  auto below_scalar = ExplainField("spec.procsPerNode.x");
  ASSERT_FALSE(below_scalar.ok());
  EXPECT_NE(below_scalar.status().message().find("has no field \"x\""), std::string::npos);
}

}  // namespace
}  // namespace trainctl::spec
