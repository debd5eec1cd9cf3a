// examples/libtorch end to end (built only where LibTorch is found): a torch model whose
// gradients libtrain all-reduces, 2 workers under trainctl run, resumed from its checkpoint.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "example_process.h"

namespace examples_test {
namespace {

constexpr char kCsv[] =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/boston_house_prices.csv";

TEST(LibtorchExample, TwoWorkersTrainTheSameTorchModelAndResumeFromACheckpoint) {
  if (!std::filesystem::exists(kCsv)) {
    GTEST_SKIP() << kCsv << " is absent: install Debian's python3-sklearn";
  }
  ScratchDir dir;
  const std::string data = (dir.path() / "boston.h5").string();
  const Ran import =
      RunShell(std::string(TRAINCTL_BINARY) + " data import csv --target MEDV --skip-rows 1 -o '" +
                   data + "' " + kCsv,
               dir.path() / "import.out");
  ASSERT_EQ(import.exit_code, 0) << import.output;
  auto train = [&](const std::string& steps, const std::string& name,
                   const std::string& flags = "") {
    return RunShell(std::string(TRAINCTL_BINARY) + " run --nproc 2 " + flags + " --run-dir '" +
                        (dir.path() / name).string() + "' -- " + LIBTORCH_TRAIN + " --data '" +
                        data + "' --steps " + steps + " --checkpoint-dir '" +
                        (dir.path() / "ckpt").string() + "'",
                    dir.path() / (name + ".out"));
  };
  const Ran first = train("1000", "first");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto hashes = FinalValues(first.output, "params_sha256");
  ASSERT_EQ(hashes.size(), 2u) << first.output;
  EXPECT_EQ(hashes.at(0), hashes.at(1)) << "the all-reduced gradients keep the ranks in step";
  const auto rmse = FinalValues(first.output, "test_rmse");
  ASSERT_EQ(rmse.count(0), 1u) << first.output;
  EXPECT_LT(std::stod(rmse.at(0)), 4.0) << first.output;

  // Asked to continue: the checkpoint of step 1000 is the starting point.
  const Ran more = train("1100", "more", "--resume");
  ASSERT_EQ(more.exit_code, 0) << more.output;
  EXPECT_THAT(more.output, ::testing::HasSubstr("resumed after step 1000"));
}

}  // namespace
}  // namespace examples_test
