// The Fashion-MNIST example as a user meets it: the short version of the demo reaches a useful
// accuracy and ends with the two final lines; a new run starts fresh; mistakes exit with the
// documented codes and messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "fashion_mnist_harness.h"

namespace fashion_mnist_test {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int CountRunDirs(const fs::path& root) {
  int runs = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    runs += entry.path().filename().string().rfind("run-", 0) == 0 ? 1 : 0;
  }
  return runs;
}

// The demo's job, shortened: 4 workers, all the data, 1 epoch instead of 10.
TEST(FashionMnistDemo, OneEpochOnFourWorkersReachesEightyPercentAndEndsWithTheFinalLines) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  ScratchDir scratch;
  const fs::path run_dir = scratch.path() / "run";
  const RunResult run = RunTrainer(*data, 4, run_dir, "--epochs 1 --log-every 100");
  ASSERT_EQ(run.exit_code, 0) << run.output;

  const std::string accuracy = FinalValue(run.output, "test_accuracy");
  ASSERT_FALSE(accuracy.empty()) << run.output;
  EXPECT_GE(std::stod(accuracy), 0.80) << run.output;
  EXPECT_THAT(run.output, HasSubstr("[rank 0] epoch 1/1 step 100/234 loss "));
  EXPECT_THAT(run.output, HasSubstr("samples/s"));
  EXPECT_THAT(run.output, HasSubstr("ETA"));

  // Rank 0's own log ends with exactly the two lines.
  const std::string log = ReadText(run_dir / "rank-0.log");
  const std::size_t last_two = log.rfind('\n', log.rfind('\n', log.size() - 2) - 1);
  ASSERT_NE(last_two, std::string::npos) << log;
  EXPECT_THAT(log.substr(last_two + 1),
              MatchesRegex("final test_accuracy=0\\.[0-9]{4}\nfinal params_sha256=[0-9a-f]{64}\n"))
      << log;
}

TEST(FashionMnistDemo, EachRunStartsFreshInACheckpointDirectoryOfItsOwn) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  ScratchDir scratch;
  const fs::path checkpoints = scratch.path() / "ckpt";
  const std::string args =
      "--limit 2048 --global-batch 64 --steps 20 --log-every 1000 "
      "--checkpoint-dir " +
      Quote(checkpoints.string());
  const RunResult first = RunTrainer(*data, 2, scratch.path() / "first", args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const RunResult second = RunTrainer(*data, 2, scratch.path() / "second", args);
  ASSERT_EQ(second.exit_code, 0) << second.output;

  // The second run trained all its steps again, from the same start: same bits, no resume.
  EXPECT_THAT(second.output, Not(HasSubstr("resumed from"))) << second.output;
  EXPECT_THAT(second.output, HasSubstr("20 steps of 20"));
  EXPECT_EQ(FinalValue(first.output, "params_sha256"), FinalValue(second.output, "params_sha256"));
  EXPECT_EQ(CountRunDirs(checkpoints), 2);
}

TEST(FashionMnistExample, HelpTeachesWithExamples) {
  const RunResult run = RunShell(Quote(kTrain) + " --help");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const char* text : {"--global-batch", "--micro-batches", "--train-data", "--steps",
                           "trainctl run", "trainctl data import idx", "Exit codes"}) {
    EXPECT_THAT(run.output, HasSubstr(text));
  }
}

TEST(FashionMnistExample, BadFlagsExitTwo) {
  for (const char* args : {"--epochs abc", "--no-such-flag", "--global-batch 0", "--lr -1",
                           "--micro-batches 0", "stray-argument"}) {
    const RunResult run = RunShell(Quote(kTrain) + " " + args);
    EXPECT_EQ(run.exit_code, 2) << args << "\n" << run.output;
  }
}

TEST(FashionMnistExample, AGlobalBatchTheRanksCannotShareExitsTwoAndSaysWhatWouldWork) {
  ScratchDir scratch;
  const RunResult run = RunShell(Quote(kTrainctl) + " run --nproc 4 --run-dir " +
                                 Quote((scratch.path() / "run").string()) + " -- " + Quote(kTrain) +
                                 " --global-batch 250");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("--global-batch 250 does not split into 4 rank(s)"));
  EXPECT_THAT(run.output, HasSubstr("e.g. 252"));
}

TEST(FashionMnistExample, MissingDataExitsOneAndSaysHowToMakeIt) {
  ScratchDir scratch;
  const std::string missing = (scratch.path() / "absent.h5").string();
  const RunResult run = RunShell(Quote(kTrain) + " --train-data " + Quote(missing) +
                                 " --test-data " + Quote(missing));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr(missing));
  EXPECT_THAT(run.output, HasSubstr("trainctl data import idx"));
}

TEST(FashionMnistExample, DataOfAnotherShapeExitsOneAndNamesTheField) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  ScratchDir scratch;
  // A CSV import: `features` and `target`, no `images`.
  const fs::path csv = scratch.path() / "table.csv";
  std::ofstream(csv) << "a,b\n1,2\n3,4\n";
  const fs::path h5 = scratch.path() / "table.h5";
  const RunResult import = RunShell(Quote(kTrainctl) + " data import csv " + Quote(csv.string()) +
                                    " -o " + Quote(h5.string()));
  ASSERT_EQ(import.exit_code, 0) << import.output;
  const RunResult run = RunShell(Quote(kTrain) + " --train-data " + Quote(h5.string()) +
                                 " --test-data " + Quote(data->test));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr(h5.string()));
  EXPECT_THAT(run.output, HasSubstr("images"));
}

}  // namespace
}  // namespace fashion_mnist_test
