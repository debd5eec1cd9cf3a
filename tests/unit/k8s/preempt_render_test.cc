// spec.failurePolicy.preemptionGrace on Kubernetes: every pod of every format gets it, plus the
// agent's margin, as terminationGracePeriodSeconds; an agent that exits 75 (preempted) is not
// counted as a failed pod, and that rule comes before the exit-code rules that fail the job.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "launcher/k8s/render.h"
#include "launcher/spec/job_file.h"

namespace trainctl::k8s {
namespace {

std::string Spec(const std::string& failure_policy) {
  return "apiVersion: trainctl.dev/v1alpha1\n"
         "kind: TrainingJob\n"
         "metadata: {name: llm}\n"
         "spec:\n"
         "  command: [/opt/train]\n"
         "  image: registry.example.com/trainer:1.0\n"
         "  nodes: 3\n" +
         (failure_policy.empty() ? "" : "  failurePolicy: " + failure_policy + "\n");
}

std::vector<YAML::Node> RenderDocs(const std::string& text, Format format) {
  spec::JobFile file = spec::ParseJob(text, "job.yaml");
  EXPECT_TRUE(file.ok()) << file.FormatErrors();
  RenderOptions options;
  options.format = format;
  options.token = std::string(64, 'a');
  EXPECT_TRUE(CheckRenderable(file.job, format).empty());
  return YAML::LoadAll(ToYamlStream(Render(file.job, options)));
}

// Every value of `key` anywhere under `node`.
void Collect(const YAML::Node& node, const std::string& key, std::vector<YAML::Node>* out) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      if (item.first.as<std::string>() == key) out->push_back(item.second);
      Collect(item.second, key, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) Collect(item, key, out);
  }
}

// The terminationGracePeriodSeconds of every pod template of the rendered job.
std::vector<int> GracePeriods(const std::string& text, Format format) {
  std::vector<YAML::Node> found;
  for (const YAML::Node& doc : RenderDocs(text, format)) {
    Collect(doc, "terminationGracePeriodSeconds", &found);
  }
  std::vector<int> seconds;
  for (const YAML::Node& value : found) seconds.push_back(value.as<int>());
  return seconds;
}

constexpr Format kFormats[] = {Format::kJob, Format::kJobSet, Format::kPyTorchJob};

TEST(PreemptRender, EveryPodGetsTheDefaultGracePlusTheAgentsMargin) {
  for (Format format : kFormats) {
    const std::vector<int> periods = GracePeriods(Spec(""), format);
    ASSERT_FALSE(periods.empty()) << "format " << static_cast<int>(format);
    for (int seconds : periods) EXPECT_EQ(seconds, 40) << "format " << static_cast<int>(format);
  }
}

TEST(PreemptRender, TheSpecsGraceIsRoundedUpToWholeSeconds) {
  for (Format format : kFormats) {
    for (int seconds : GracePeriods(Spec("{preemptionGrace: 2m}"), format)) {
      EXPECT_EQ(seconds, 130);
    }
    for (int seconds : GracePeriods(Spec("{preemptionGrace: 1500ms}"), format)) {
      EXPECT_EQ(seconds, 12);
    }
    for (int seconds : GracePeriods(Spec("{preemptionGrace: 0s}"), format)) {
      EXPECT_EQ(seconds, 10);
    }
  }
}

TEST(PreemptRender, APreemptedAgentIsIgnoredBeforeAnyExitCodeRuleFailsTheJob) {
  const std::string text = Spec("{restartOnExitCodes: [1], failOnExitCodes: [2]}");
  for (Format format : {Format::kJob, Format::kJobSet}) {
    std::vector<YAML::Node> policies;
    for (const YAML::Node& doc : RenderDocs(text, format)) {
      Collect(doc, "podFailurePolicy", &policies);
    }
    ASSERT_EQ(policies.size(), 1u);
    const YAML::Node rules = policies[0]["rules"];
    ASSERT_EQ(rules.size(), 4u);
    EXPECT_EQ(rules[0]["onPodConditions"][0]["type"].as<std::string>(), "DisruptionTarget");
    EXPECT_EQ(rules[1]["action"].as<std::string>(), "Ignore");
    EXPECT_EQ(rules[1]["onExitCodes"]["containerName"].as<std::string>(), "trainer");
    EXPECT_EQ(rules[1]["onExitCodes"]["operator"].as<std::string>(), "In");
    ASSERT_EQ(rules[1]["onExitCodes"]["values"].size(), 1u);
    EXPECT_EQ(rules[1]["onExitCodes"]["values"][0].as<int>(), 75);
    // Without the rule above, NotIn [1] would fail the job on a preempted agent's 75.
    EXPECT_EQ(rules[3]["onExitCodes"]["operator"].as<std::string>(), "NotIn");
  }
}

}  // namespace
}  // namespace trainctl::k8s
