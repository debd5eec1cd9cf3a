// Data parallelism changes nothing but the speed: the same training with 4 ranks and with 1
// rank at the same global batch ends with the same parameters: within float tolerance when the
// one rank computes each batch's gradient in one piece, and bit for bit when it cuts the batch
// into the 4 ranks' micro-batches and adds their gradients in the deterministic all-reduce's
// order ((g0 + g1) + g2) + g3, then divides by 4.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "fashion_mnist_harness.h"

namespace fashion_mnist_test {
namespace {

// A short run on a subset: enough steps for differences to grow if there were any.
constexpr char kCommonArgs[] =
    "--limit 4096 --global-batch 64 --steps 48 --epochs 1 --warmup-steps 8 --seed 5 "
    "--log-every 1000";

struct Trained {
  RunResult run;
  std::string sha256;
  std::vector<float> params;
};

Trained Train(const Hdf5Data& data, const ScratchDir& scratch, const std::string& name, int nproc,
              const std::string& args) {
  const fs::path params = scratch.path() / (name + ".params");
  Trained trained;
  trained.run =
      RunTrainer(data, nproc, scratch.path() / (name + "-run"),
                 std::string(kCommonArgs) + " " + args + " --params-out " + Quote(params.string()));
  trained.sha256 = FinalValue(trained.run.output, "params_sha256");
  trained.params = ReadFloats(params);
  return trained;
}

TEST(Equivalence, FourRanksAndOneRankGiveTheSameParametersWithinFloatTolerance) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  ScratchDir scratch;
  const Trained four = Train(*data, scratch, "four", 4, "--deterministic false");
  const Trained one = Train(*data, scratch, "one", 1, "--deterministic false");
  ASSERT_EQ(four.run.exit_code, 0) << four.run.output;
  ASSERT_EQ(one.run.exit_code, 0) << one.run.output;
  ASSERT_EQ(four.params.size(), one.params.size());
  ASSERT_EQ(four.params.size(), 784u * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);

  // The one rank sums each batch's gradient in another order (one product over 64 samples
  // against four of 16, then an average), so the bits differ, by about 2e-6 after these steps;
  // the parameters themselves move by about 4e-2.
  double max_diff = 0;
  for (std::size_t i = 0; i < one.params.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(four.params[i]) - one.params[i]));
  }
  EXPECT_LT(max_diff, 2e-5) << "4 ranks and 1 rank diverged";
  // And they trained: the parameters moved from where the seed put them.
  const Trained untrained = Train(*data, scratch, "zero", 1, "--lr 1e-7");
  ASSERT_EQ(untrained.run.exit_code, 0) << untrained.run.output;
  double moved = 0;
  for (std::size_t i = 0; i < one.params.size(); ++i) {
    moved = std::max(moved, std::fabs(static_cast<double>(untrained.params[i]) - one.params[i]));
  }
  EXPECT_GT(moved, 100 * max_diff);
}

TEST(Equivalence, FourRanksAndOneRankOfFourMicroBatchesAreBitwiseEqualInDeterministicMode) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  ScratchDir scratch;
  const Trained four = Train(*data, scratch, "four", 4, "--deterministic true");
  const Trained one = Train(*data, scratch, "one", 1, "--deterministic true --micro-batches 4");
  ASSERT_EQ(four.run.exit_code, 0) << four.run.output;
  ASSERT_EQ(one.run.exit_code, 0) << one.run.output;
  ASSERT_EQ(four.sha256.size(), 64u) << four.run.output;
  EXPECT_EQ(four.sha256, one.sha256) << four.run.output << one.run.output;
  EXPECT_TRUE(four.params == one.params);

  // The micro-batches must be the ranks' own: cut the other way (two of 32), the bits differ.
  const Trained two = Train(*data, scratch, "two", 1, "--deterministic true --micro-batches 2");
  ASSERT_EQ(two.run.exit_code, 0) << two.run.output;
  EXPECT_NE(two.sha256, four.sha256);
}

TEST(Equivalence, FourRanksAreBitwiseReproducibleRunToRun) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  ScratchDir scratch;
  const Trained first = Train(*data, scratch, "first", 4, "--deterministic true");
  const Trained second = Train(*data, scratch, "second", 4, "--deterministic true");
  ASSERT_EQ(first.run.exit_code, 0) << first.run.output;
  ASSERT_EQ(second.run.exit_code, 0) << second.run.output;
  ASSERT_EQ(first.sha256.size(), 64u) << first.run.output;
  EXPECT_EQ(first.sha256, second.sha256);
}

}  // namespace
}  // namespace fashion_mnist_test
