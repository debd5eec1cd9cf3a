#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "job_file.h"

namespace trainctl::spec {
namespace {

using google::protobuf::util::MessageDifferencer;

namespace fs = std::filesystem;

// Tests run from the source root (tests/CMakeLists.txt sets WORKING_DIRECTORY).
TEST(ExampleJobs, EveryExampleIsValid) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("examples/jobs")) {
    const auto ext = entry.path().extension();
    if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
    JobFile job = LoadJobFile(entry.path().string());
    EXPECT_TRUE(job.ok()) << job.FormatErrors();
    ++count;
  }
  EXPECT_GE(count, 4) << "examples/jobs should hold the documented example specs";
}

TEST(Loader, ReadsEveryFieldOfTheGpuExample) {
  JobFile file = LoadJobFile("examples/jobs/gpu-elastic.yaml");
  ASSERT_TRUE(file.ok()) << file.FormatErrors();
  const auto& job = file.job;
  EXPECT_EQ(job.metadata().name(), "llm-pretrain");
  EXPECT_EQ(job.metadata().namespace_(), "research");
  EXPECT_EQ(job.metadata().labels().at("app.kubernetes.io/part-of"), "pretraining");
  const auto& spec = job.spec();
  ASSERT_EQ(spec.command_size(), 3);
  EXPECT_EQ(spec.command(2), "/etc/train/config.yaml");
  EXPECT_EQ(spec.nodes().min(), 2);
  EXPECT_EQ(spec.nodes().max(), 4);
  EXPECT_EQ(spec.resources().memory(), "900Gi");
  EXPECT_EQ(spec.resources().gpus(), 8);
  ASSERT_EQ(spec.scheduling().tolerations_size(), 1);
  EXPECT_EQ(spec.scheduling().tolerations(0).operator_(), "Exists");
  EXPECT_EQ(spec.failure_policy().restart_on_exit_codes_size(), 3);
  EXPECT_EQ(spec.failure_policy().restart_on_exit_codes(2), 137);
  EXPECT_TRUE(spec.checkpoint().async());
  ASSERT_EQ(spec.storage().volumes_size(), 2);
  EXPECT_TRUE(spec.storage().volumes(1).empty_dir());
  EXPECT_EQ(spec.ttl_after_finished(), "24h");
}

TEST(Loader, NodeCountShorthandMeansMinEqualsMax) {
  JobFile file = ParseJob(
      "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\n"
      "spec: {command: [x], nodes: 3}\n",
      "j.yaml");
  ASSERT_TRUE(file.ok()) << file.FormatErrors();
  EXPECT_EQ(file.job.spec().nodes().min(), 3);
  EXPECT_EQ(file.job.spec().nodes().max(), 3);
}

TEST(Loader, JsonAndYamlGiveTheSameJob) {
  const std::string yaml =
      "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\n"
      "spec:\n  command: [x, \"--lr\", \"0.1\"]\n  resources: {gpus: 2}\n";
  const std::string json =
      R"({"apiVersion": "trainctl.dev/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "a"},
          "spec": {"command": ["x", "--lr", "0.1"], "resources": {"gpus": 2}}})";
  JobFile a = ParseJob(yaml, "a.yaml");
  JobFile b = ParseJob(json, "b.json");
  ASSERT_TRUE(a.ok()) << a.FormatErrors();
  ASSERT_TRUE(b.ok()) << b.FormatErrors();
  EXPECT_TRUE(MessageDifferencer::Equals(a.job, b.job)) << a.job.DebugString() << "\nvs\n"
                                                        << b.job.DebugString();
}

}  // namespace
}  // namespace trainctl::spec
