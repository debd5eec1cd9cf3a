#include "defaults.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "duration.h"
#include "job_file.h"
#include "schema_docs.h"
#include "train/defaults.h"
#include "yaml_encoder.h"

namespace trainctl::spec {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr char kMinimal[] =
    "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\n"
    "spec: {command: [train]}\n";

TEST(Defaults, FillEveryDocumentedDefault) {
  JobFile file = ParseJob(kMinimal, "a.yaml");
  ASSERT_TRUE(file.ok()) << file.FormatErrors();
  const auto& job = file.job;
  EXPECT_EQ(job.metadata().namespace_(), "default");
  const auto& spec = job.spec();
  EXPECT_EQ(spec.working_dir(), ".");
  EXPECT_EQ(spec.nodes().min(), 1);
  EXPECT_EQ(spec.nodes().max(), 1);
  EXPECT_EQ(spec.procs_per_node(), 1);
  EXPECT_EQ(spec.resources().gpus(), 0);
  EXPECT_EQ(spec.resources().gpu_resource(), "nvidia.com/gpu");
  EXPECT_EQ(spec.rendezvous().port(), 29400);
  EXPECT_EQ(spec.rendezvous().join_timeout(), "10m");
  EXPECT_EQ(spec.rendezvous().last_call(), "2s");
  EXPECT_EQ(spec.rendezvous().heartbeat(), "1s");
  EXPECT_EQ(spec.rendezvous().heartbeat_timeout(), "5s");
  EXPECT_EQ(spec.failure_policy().max_restarts(), 3);
  EXPECT_EQ(spec.failure_policy().backoff(), "1s");
  EXPECT_EQ(spec.collectives().backend(), "auto");
  EXPECT_EQ(spec.collectives().timeout(), "5m");
  EXPECT_FALSE(spec.has_checkpoint()) << "no directory: no checkpointing";
}

// The schema's "Default: X." lines, which `trainctl explain` prints, say what the one table of
// defaults (train/defaults.h) holds: the spec, explain and libtrain cannot drift apart.
TEST(Defaults, ExplainShowsTheLibraryTable) {
  namespace d = train::defaults;
  const std::pair<const char*, std::string> fields[] = {
      {"spec.rendezvous.port", std::to_string(d::kStorePort)},
      {"spec.rendezvous.joinTimeout", FormatDuration(d::kJoinTimeout)},
      {"spec.rendezvous.lastCall", FormatDuration(d::kLastCall)},
      {"spec.rendezvous.heartbeat", FormatDuration(d::kHeartbeat)},
      {"spec.rendezvous.heartbeatTimeout", FormatDuration(d::kHeartbeatTimeout)},
      {"spec.failurePolicy.maxRestarts", std::to_string(d::kMaxRestarts)},
      {"spec.failurePolicy.backoff", FormatDuration(d::kRestartBackoff)},
      {"spec.failurePolicy.preemptionGrace", FormatDuration(d::kPreemptionGrace)},
      {"spec.collectives.timeout", FormatDuration(d::kCollectiveTimeout)},
      {"spec.checkpoint.everySteps", std::to_string(d::kCheckpointEverySteps)},
      {"spec.checkpoint.keep", std::to_string(d::kCheckpointKeep)},
      {"spec.checkpoint.async", d::kCheckpointAsync ? "true" : "false"},
      {"spec.checkpoint.memory.everySteps", std::to_string(d::kMemorySnapshotEverySteps)},
      {"spec.checkpoint.memory.replicas", std::to_string(d::kMemorySnapshotReplicas)},
  };
  for (const auto& [path, value] : fields) {
    auto text = ExplainField(path);
    ASSERT_TRUE(text.ok()) << path << ": " << text.status();
    // Comments wrap: compare with every run of whitespace as one space.
    std::string flat;
    for (char c : *text) {
      const bool space = c == ' ' || c == '\n';
      if (!space || (!flat.empty() && flat.back() != ' ')) flat += space ? ' ' : c;
    }
    EXPECT_NE(flat.find("Default: " + value + "."), std::string::npos)
        << path << " should say \"Default: " << value << ".\":\n"
        << *text;
  }
}

TEST(Defaults, NeverOverrideWhatTheUserSet) {
  JobFile file = ParseJob(
      "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\n"
      "spec:\n  command: [train]\n  nodes: {min: 2}\n  resources: {gpus: 4}\n"
      "  failurePolicy: {maxRestarts: 0}\n  checkpoint: {dir: c, async: false}\n",
      "a.yaml");
  ASSERT_TRUE(file.ok()) << file.FormatErrors();
  const auto& spec = file.job.spec();
  EXPECT_EQ(spec.nodes().max(), 2) << "max defaults to min";
  EXPECT_EQ(spec.procs_per_node(), 4) << "one worker per GPU";
  EXPECT_EQ(spec.failure_policy().max_restarts(), 0) << "an explicit 0 is kept";
  EXPECT_FALSE(spec.checkpoint().async());
  EXPECT_EQ(spec.checkpoint().every_steps(), 1000);
  EXPECT_EQ(spec.checkpoint().keep(), 3);
}

TEST(Defaults, MemorySnapshotsTakeOneStepOneReplicaWithOrWithoutADirectory) {
  JobFile file = ParseJob(
      "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\n"
      "spec:\n  command: [train]\n  checkpoint: {memory: {}}\n",
      "a.yaml");
  ASSERT_TRUE(file.ok()) << file.FormatErrors();
  EXPECT_EQ(file.job.spec().checkpoint().memory().every_steps(), 1);
  EXPECT_EQ(file.job.spec().checkpoint().memory().replicas(), 1);
  EXPECT_TRUE(file.job.spec().checkpoint().dir().empty());
  JobFile zero = ParseJob(
      "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\n"
      "spec:\n  command: [train]\n  checkpoint: {memory: {everySteps: 5, replicas: 0}}\n",
      "a.yaml");
  ASSERT_TRUE(zero.ok()) << zero.FormatErrors();
  EXPECT_EQ(zero.job.spec().checkpoint().memory().every_steps(), 5);
  EXPECT_EQ(zero.job.spec().checkpoint().memory().replicas(), 0) << "an explicit 0 is kept";
}

TEST(Defaults, PrintedYamlReadsBackToTheSameJob) {
  for (const char* path : {"examples/jobs/gpu-elastic.yaml", "examples/jobs/fashion-mnist.yaml",
                           "examples/jobs/mig-inference-finetune.json"}) {
    JobFile file = LoadJobFile(path);
    ASSERT_TRUE(file.ok()) << file.FormatErrors();
    const std::string yaml = EncodeYaml(file.job);
    JobFile again = ParseJob(yaml, "defaults.yaml");
    ASSERT_TRUE(again.ok()) << again.FormatErrors() << yaml;
    EXPECT_TRUE(MessageDifferencer::Equals(again.job, file.job)) << yaml;
  }
}

TEST(Defaults, StringsThatLookLikeNumbersStayStrings) {
  JobFile file = ParseJob(
      "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\n"
      "spec:\n  command: [train, \"3\", \"true\"]\n  env: [{name: X, value: \"1\"}]\n",
      "a.yaml");
  ASSERT_TRUE(file.ok()) << file.FormatErrors();
  const std::string yaml = EncodeYaml(file.job);
  EXPECT_NE(yaml.find("[train, \"3\", \"true\"]"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("value: \"1\""), std::string::npos) << yaml;
}

}  // namespace
}  // namespace trainctl::spec
