// A failure rehearsed with `trainctl run --chaos kill:rank=1:step=S`: the agent SIGKILLs rank 1
// when it reports step S, trainctl restarts the group, the workers resume from the newest
// checkpoint of this run, and the job ends with the same params_sha256 as the run never killed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "fashion_mnist_harness.h"

namespace fashion_mnist_test {
namespace {

using ::testing::HasSubstr;

// The main job's spec, shortened: 4 workers, a subset, a checkpoint every 20 steps.
RunResult RunJob(const Hdf5Data& data, const ScratchDir& scratch, const std::string& name,
                 const std::string& trainctl_flags) {
  const fs::path job = scratch.path() / (name + ".yaml");
  std::ofstream(job) << "apiVersion: trainctl.dev/v1alpha1\n"
                        "kind: TrainingJob\n"
                        "metadata: {name: "
                     << name << "}\n"
                     << "spec:\n"
                        "  command: ["
                     << '"' << kTrain << "\", --train-data, \"" << data.train
                     << "\", --test-data, \"" << data.test
                     << "\", --limit, \"8192\", --global-batch, \"64\", --steps, \"90\", "
                        "--log-every, \"1000\"]\n"
                        "  procsPerNode: 4\n"
                        "  env: [{name: OPENBLAS_NUM_THREADS, value: \"1\"}]\n"
                        "  failurePolicy: {maxRestarts: 3, backoff: 100ms, failOnExitCodes: [2]}\n"
                        "  collectives: {backend: cpu, timeout: 60s}\n"
                        "  checkpoint: {dir: \""
                     << (scratch.path() / (name + "-ckpt")).string()
                     << "\", everySteps: 20, keep: 2}\n";
  return RunShell(Quote(kTrainctl) + " run " + Quote(job.string()) + " --run-dir " +
                  Quote((scratch.path() / (name + "-run")).string()) + " " + trainctl_flags);
}

TEST(FashionMnistChaos, RankOneKilledAtAStepEndsWithTheSameParamsSha256) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  ScratchDir scratch;
  const RunResult clean = RunJob(*data, scratch, "clean", "");
  ASSERT_EQ(clean.exit_code, 0) << clean.output;
  const std::string expected = FinalValue(clean.output, "params_sha256");
  ASSERT_EQ(expected.size(), 64u) << clean.output;

  const RunResult killed = RunJob(*data, scratch, "killed", "--chaos kill:rank=1:step=50");
  ASSERT_EQ(killed.exit_code, 0) << killed.output;
  EXPECT_THAT(killed.output, HasSubstr("restarting (1 of 3)"));
  EXPECT_THAT(killed.output, HasSubstr("resumed from"));
  EXPECT_THAT(killed.output, HasSubstr("/step-40 (step 40)"));
  EXPECT_EQ(FinalValue(killed.output, "params_sha256"), expected) << killed.output;
}

}  // namespace
}  // namespace fashion_mnist_test
