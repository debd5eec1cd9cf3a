// examples/pytorch under trainctl run: a torch.distributed (gloo, env://) script with 2 ranks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "example_process.h"

namespace examples_test {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

bool DebianTorchImports(const ScratchDir& dir) {
  return RunShell(std::string(kPython) + " -c 'import torch.distributed'", dir.path() / "probe", 60)
             .exit_code == 0;
}

TEST(PytorchExample, TwoRanksUnderTrainctlAgreeOnTheFinalParameters) {
  ScratchDir dir;
  if (!DebianTorchImports(dir)) {
    GTEST_SKIP() << kPython << " cannot import torch: install Debian's python3-torch";
  }
  const Ran run = RunShell(std::string(TRAINCTL_BINARY) + " run --nproc 2 --run-dir '" +
                               (dir.path() / "run").string() + "' -- " + kPython +
                               " examples/pytorch/train.py --epochs 8",
                           dir.path() / "out");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto hashes = FinalValues(run.output, "params_sha256");
  ASSERT_EQ(hashes.size(), 2u) << run.output;
  EXPECT_EQ(hashes.at(0), hashes.at(1)) << "DDP ranks must end with the same parameters";
  EXPECT_EQ(hashes.at(0).size(), 64u);
  const auto accuracy = FinalValues(run.output, "test_accuracy");
  ASSERT_EQ(accuracy.count(0), 1u) << run.output;
  EXPECT_GT(std::stod(accuracy.at(0)), 0.85) << run.output;
}

TEST(PytorchExample, ARankLostMidRunRestartsTheRoundAndTheJobResumesBitwise) {
  ScratchDir dir;
  if (!DebianTorchImports(dir)) {
    GTEST_SKIP() << kPython << " cannot import torch: install Debian's python3-torch";
  }
  auto train = [&](const std::string& name, const std::string& extra) {
    return RunShell(std::string(TRAINCTL_BINARY) + " run --nproc 2 --max-restarts 1 --run-dir '" +
                        (dir.path() / name).string() + "' -- " + kPython +
                        " examples/pytorch/train.py --epochs 6 --checkpoint-dir '" +
                        (dir.path() / (name + "-ckpt")).string() + "'" + extra,
                    dir.path() / (name + ".out"));
  };
  const Ran whole = train("whole", "");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const Ran failed = train("failed", " --fail-rank 1 --fail-after-epoch 3");
  ASSERT_EQ(failed.exit_code, 0) << failed.output;
  EXPECT_THAT(failed.output, ::testing::HasSubstr("rank 1 fails after epoch 3"));
  EXPECT_THAT(failed.output, ::testing::HasSubstr("restarting (1 of 1)"));
  EXPECT_THAT(failed.output, ::testing::HasSubstr("resumed from"));
  const auto hashes = FinalValues(failed.output, "params_sha256");
  ASSERT_EQ(hashes.size(), 2u) << failed.output;
  EXPECT_EQ(hashes, FinalValues(whole.output, "params_sha256"))
      << "the resumed job ends where the uninterrupted one does";
}

TEST(PytorchExample, ATorchRankAloneIsAWorldOfOne) {
  ScratchDir dir;
  if (!DebianTorchImports(dir)) {
    GTEST_SKIP() << kPython << " cannot import torch: install Debian's python3-torch";
  }
  const Ran run =
      RunShell(std::string(kPython) + " examples/pytorch/train.py --epochs 1", dir.path() / "out");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, ::testing::HasSubstr("final params_sha256="));
}

}  // namespace
}  // namespace examples_test
