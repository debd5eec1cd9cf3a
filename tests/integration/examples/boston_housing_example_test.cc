// examples/boston-housing end to end: the CSV of python3-sklearn imported by trainctl, the
// regression trained by 2 workers under trainctl run, the test RMSE checked against a bar.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "example_process.h"

namespace examples_test {
namespace {

namespace fs = std::filesystem;

constexpr char kCsv[] =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/boston_house_prices.csv";

class BostonExample : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kCsv)) GTEST_SKIP() << kCsv << " is absent: install Debian's python3-sklearn";
    const Ran import = RunShell(std::string(TRAINCTL_BINARY) + " data import csv --target MEDV " +
                                    "--skip-rows 1 -o '" + data_.string() + "' " + kCsv,
                                dir_.path() / "import.out");
    ASSERT_EQ(import.exit_code, 0) << import.output;
  }

  // trainctl run with 2 workers; `args` go to the example, `flags` to trainctl.
  Ran Train(const std::string& args, const std::string& name, const std::string& flags = "") {
    return RunShell(std::string(TRAINCTL_BINARY) + " run --nproc 2 " + flags + " --run-dir '" +
                        (dir_.path() / ("run-" + name)).string() + "' -- " + BOSTON_TRAIN +
                        " --data '" + data_.string() + "' " + args,
                    dir_.path() / (name + ".out"));
  }

  // The test RMSE of rank 0, after checking that both ranks hold the same parameters.
  static double TestRmse(const Ran& run) {
    const auto hashes = FinalValues(run.output, "params_sha256");
    EXPECT_EQ(hashes.size(), 2u) << run.output;
    if (hashes.size() == 2) {
      EXPECT_EQ(hashes.at(0), hashes.at(1)) << run.output;
    }
    const auto rmse = FinalValues(run.output, "test_rmse");
    return rmse.count(0) == 1 ? std::stod(rmse.at(0)) : 1e9;
  }

  ScratchDir dir_;
  fs::path data_ = dir_.path() / "boston.h5";
};

TEST_F(BostonExample, AnMlpOnTwoWorkersPredictsHeldOutPricesWithinFourThousandDollars) {
  const Ran run = Train("", "mlp");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_LT(TestRmse(run), 4.0) << run.output;
}

TEST_F(BostonExample, ALinearModelOnTwoWorkersStaysUnderSixThousandDollars) {
  const Ran run = Train("--hidden 0", "linear");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_LT(TestRmse(run), 6.0) << run.output;
}

TEST_F(BostonExample, AJobResumedFromItsCheckpointEndsWithTheSameParameters) {
  const std::string ckpt = " --checkpoint-every 200 --checkpoint-dir '";
  const Ran whole = Train("--steps 600" + ckpt + (dir_.path() / "a").string() + "'", "whole");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const Ran first = Train("--steps 400" + ckpt + (dir_.path() / "b").string() + "'", "first");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  // A new run starts at step 0 unless asked to continue the earlier one.
  const Ran again = Train("--steps 400" + ckpt + (dir_.path() / "b").string() + "'", "again");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, ::testing::Not(::testing::HasSubstr("resumed after step")));
  EXPECT_EQ(FinalValues(again.output, "params_sha256"), FinalValues(first.output, "params_sha256"));
  const Ran rest =
      Train("--steps 600" + ckpt + (dir_.path() / "b").string() + "'", "rest", "--resume");
  ASSERT_EQ(rest.exit_code, 0) << rest.output;
  EXPECT_THAT(rest.output, ::testing::HasSubstr("resumed after step 400"));
  EXPECT_EQ(FinalValues(rest.output, "params_sha256"), FinalValues(whole.output, "params_sha256"))
      << "a resumed run continues bitwise as if it had never stopped";
}

TEST_F(BostonExample, AWorkerKilledMidRunByChaosEndsWithTheSameParameters) {
  const std::string ckpt = " --steps 600 --checkpoint-every 200 --checkpoint-dir '";
  const Ran whole = Train(ckpt + (dir_.path() / "a").string() + "'", "calm");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  // trainctl's own options go before the command: --chaos SIGKILLs rank 1 when it reports 450.
  const Ran chaos =
      RunShell(std::string(TRAINCTL_BINARY) +
                   " run --nproc 2 --max-restarts 1 --chaos kill:rank=1:step=450 "
                   "--run-dir '" +
                   (dir_.path() / "run-chaos").string() + "' -- " + BOSTON_TRAIN + " --data '" +
                   data_.string() + "'" + ckpt + (dir_.path() / "b").string() + "'",
               dir_.path() / "chaos.out");
  ASSERT_EQ(chaos.exit_code, 0) << chaos.output;
  EXPECT_THAT(chaos.output, ::testing::HasSubstr("rank 1 killed by signal 9"));
  // The step-400 checkpoint is saved in the background while training goes on; on a loaded
  // machine the kill can come before it commits, and then the round resumes from step 200.
  // Either way it resumes from the newest committed checkpoint and ends bitwise equal.
  EXPECT_THAT(chaos.output, ::testing::ContainsRegex("resumed after step (200|400)"));
  EXPECT_EQ(FinalValues(chaos.output, "params_sha256"), FinalValues(whole.output, "params_sha256"));
}

TEST_F(BostonExample, ABatchThatDoesNotSplitOverTheRanksIsAUsageError) {
  const Ran run = Train("--global-batch 33", "odd");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.output, ::testing::HasSubstr("--global-batch=33 is not a multiple of the world"));
}

}  // namespace
}  // namespace examples_test
