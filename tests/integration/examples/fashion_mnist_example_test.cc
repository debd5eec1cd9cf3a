// Runs build/examples/fashion-mnist/train as a user would and checks what they would see: it
// learns (the loss falls, the test accuracy is well above chance), it is reproducible, and it
// fails with the documented exit codes and messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kTrainBinary[] = FASHION_MNIST_TRAIN;
constexpr char kDatasetDir[] = "/usr/share/datasets/fashion-mnist";

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Launcher variables of the test's own environment would change who the worker thinks it is;
// the child runs without them.
std::string UnsetLauncherVariables() {
  static const char* const kTorchNames[] = {
      "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE"};
  std::string unset;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string name(*entry, std::strcspn(*entry, "="));
    bool drop = name.rfind("TRAIN_", 0) == 0 || name.rfind("OMPI_", 0) == 0;
    for (const char* torch : kTorchNames) drop = drop || name == torch;
    if (drop) unset += " -u " + name;
  }
  return unset;
}

// Runs the trainer with `args` (shell words) and `env` assignments ("NAME=value ...").
RunResult RunTrain(const std::string& args, const std::string& env = "") {
  const std::string command =
      "env" + UnsetLauncherVariables() + " " + env + " '" + kTrainBinary + "' " + args + " 2>&1";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed for: " << command;
    return result;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

struct EpochLine {
  int epoch;
  double loss;
  double train_accuracy;
  double test_accuracy;
};

std::vector<EpochLine> ParseEpochs(const std::string& output) {
  static const std::regex kLine(
      R"(epoch (\d+)/\d+: loss ([0-9.]+), train accuracy ([0-9.]+)%, test accuracy ([0-9.]+)%)");
  std::vector<EpochLine> epochs;
  for (std::sregex_iterator it(output.begin(), output.end(), kLine), end; it != end; ++it) {
    epochs.push_back(
        {std::stoi((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4])});
  }
  return epochs;
}

// The per-epoch results without the timings, which differ from run to run.
std::string Results(const std::string& output) {
  std::string results;
  for (const EpochLine& e : ParseEpochs(output)) {
    results += std::to_string(e.epoch) + ": " + std::to_string(e.loss) + " " +
               std::to_string(e.train_accuracy) + " " + std::to_string(e.test_accuracy) + "\n";
  }
  return results;
}

bool DatasetInstalled() {
  return fs::exists(fs::path(kDatasetDir) / "train-images-idx3-ubyte.gz") &&
         fs::exists(fs::path(kDatasetDir) / "t10k-images-idx3-ubyte.gz");
}

#define SKIP_WITHOUT_DATASET()                                                           \
  if (!DatasetInstalled()) {                                                             \
    GTEST_SKIP() << kDatasetDir << " is missing: apt-get install dataset-fashion-mnist"; \
  }

std::vector<uint8_t> IdxHeader(std::vector<uint32_t> dims) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(d >> shift));
  }
  return bytes;
}

// A scratch data directory, removed when the test ends.
class FashionMnistExampleData : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fashion_mnist_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void WritePlain(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream out(dir_ / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << dir_ / name;
  }

  void WriteGzip(const std::string& name, const std::vector<uint8_t>& bytes) {
    gzFile file = gzopen((dir_ / (name + ".gz")).c_str(), "wb");
    ASSERT_NE(file, nullptr);
    EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    ASSERT_EQ(gzclose(file), Z_OK);
  }

  // A tiny learnable data set: class c lights up rows 2c and 2c+1 of a 28x28 image.
  void WriteSyntheticSplit(const std::string& prefix, int count, bool gzip) {
    std::vector<uint8_t> images = IdxHeader({static_cast<uint32_t>(count), 28, 28});
    std::vector<uint8_t> labels = IdxHeader({static_cast<uint32_t>(count)});
    for (int i = 0; i < count; ++i) {
      const int label = i % 10;
      labels.push_back(static_cast<uint8_t>(label));
      for (int p = 0; p < 28 * 28; ++p) {
        const int row = p / 28;
        images.push_back(row / 2 == label ? 255 : static_cast<uint8_t>((i * 7 + p) % 16));
      }
    }
    if (gzip) {
      WriteGzip(prefix + "-images-idx3-ubyte", images);
      WriteGzip(prefix + "-labels-idx1-ubyte", labels);
    } else {
      WritePlain(prefix + "-images-idx3-ubyte", images);
      WritePlain(prefix + "-labels-idx1-ubyte", labels);
    }
  }

  std::string DataDirFlag() const { return "--data-dir '" + dir_.string() + "'"; }

  fs::path dir_;
};

TEST(FashionMnistExample, LearnsOnASubsetOfTheRealData) {
  SKIP_WITHOUT_DATASET();
  const RunResult run = RunTrain("--limit 3000 --epochs 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("loaded 3000 training and 10000 test images"));
  const std::vector<EpochLine> epochs = ParseEpochs(run.output);
  ASSERT_EQ(epochs.size(), 2u) << run.output;
  EXPECT_LT(epochs[1].loss, epochs[0].loss) << run.output;
  EXPECT_GT(epochs[1].test_accuracy, 60.0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("[rank 0]"));
  EXPECT_THAT(run.output, HasSubstr("samples/s"));
}

TEST(FashionMnistExample, TheSameSeedGivesTheSameRun) {
  SKIP_WITHOUT_DATASET();
  const RunResult first = RunTrain("--limit 1000 --epochs 2 --seed 7");
  const RunResult second = RunTrain("--limit 1000 --epochs 2 --seed 7");
  const RunResult other_seed = RunTrain("--limit 1000 --epochs 2 --seed 8");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(second.exit_code, 0) << second.output;
  ASSERT_EQ(other_seed.exit_code, 0) << other_seed.output;
  ASSERT_FALSE(Results(first.output).empty()) << first.output;
  EXPECT_EQ(Results(first.output), Results(second.output));
  EXPECT_NE(Results(first.output), Results(other_seed.output));
}

TEST_F(FashionMnistExampleData, ReadsPlainAndGzipFilesAlike) {
  WriteSyntheticSplit("train", 200, /*gzip=*/false);
  WriteSyntheticSplit("t10k", 50, /*gzip=*/false);
  const RunResult plain = RunTrain(DataDirFlag() + " --epochs 3 --batch-size 10");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;

  fs::remove_all(dir_);
  fs::create_directory(dir_);
  WriteSyntheticSplit("train", 200, /*gzip=*/true);
  WriteSyntheticSplit("t10k", 50, /*gzip=*/true);
  const RunResult gzip = RunTrain(DataDirFlag() + " --epochs 3 --batch-size 10");
  ASSERT_EQ(gzip.exit_code, 0) << gzip.output;

  const std::vector<EpochLine> epochs = ParseEpochs(plain.output);
  ASSERT_EQ(epochs.size(), 3u) << plain.output;
  EXPECT_EQ(Results(plain.output), Results(gzip.output));
  // The classes are one bright band each: anything that reads the files right learns them.
  EXPECT_GT(epochs.back().test_accuracy, 90.0) << plain.output;
}

TEST_F(FashionMnistExampleData, MissingDataDirExitsOneAndNamesThePackage) {
  const std::string missing = (dir_ / "absent").string();
  const RunResult run = RunTrain("--data-dir '" + missing + "'");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr(missing));
  EXPECT_THAT(run.output, HasSubstr("apt-get install dataset-fashion-mnist"));
}

TEST_F(FashionMnistExampleData, MissingFileExitsOneAndNamesIt) {
  WriteSyntheticSplit("train", 20, /*gzip=*/true);  // no t10k-* files
  const RunResult run = RunTrain(DataDirFlag());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr((dir_ / "t10k-images-idx3-ubyte.gz").string()));
  EXPECT_THAT(run.output, HasSubstr("apt-get install dataset-fashion-mnist"));
}

TEST_F(FashionMnistExampleData, BadMagicExitsOne) {
  WriteSyntheticSplit("t10k", 20, /*gzip=*/false);
  WritePlain("train-images-idx3-ubyte", {'P', 'K', 3, 4, 0, 0, 0, 0});
  WritePlain("train-labels-idx1-ubyte", IdxHeader({0}));
  const RunResult run = RunTrain(DataDirFlag());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr((dir_ / "train-images-idx3-ubyte").string()));
  EXPECT_THAT(run.output, HasSubstr("not an IDX file"));
}

TEST_F(FashionMnistExampleData, TruncatedFileExitsOne) {
  WriteSyntheticSplit("t10k", 20, /*gzip=*/false);
  std::vector<uint8_t> images = IdxHeader({5, 28, 28});
  images.resize(images.size() + 100);  // 100 of the 3920 pixel bytes
  WriteGzip("train-images-idx3-ubyte", images);
  WriteGzip("train-labels-idx1-ubyte", IdxHeader({5}));
  const RunResult run = RunTrain(DataDirFlag());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("train-images-idx3-ubyte.gz: truncated"));
}

TEST(FashionMnistExample, BadFlagsExitTwo) {
  for (const char* args : {"--epochs abc", "--no-such-flag", "--batch-size 0", "--lr -1",
                           "--limit -5", "stray-argument"}) {
    const RunResult run = RunTrain(args);
    EXPECT_EQ(run.exit_code, 2) << args << "\n" << run.output;
    EXPECT_THAT(run.output, HasSubstr("--help")) << args;
  }
}

TEST(FashionMnistExample, HelpListsTheFlags) {
  const RunResult run = RunTrain("--help");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const char* flag : {"--data-dir", "--epochs", "--batch-size", "--lr", "--limit", "--seed"}) {
    EXPECT_THAT(run.output, HasSubstr(flag));
  }
}

TEST(FashionMnistExample, RefusesMoreThanOneWorker) {
  const RunResult run =
      RunTrain("--limit 100 --epochs 1", "OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=1");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("[rank 1]"));
  EXPECT_THAT(run.output, HasSubstr("one worker"));
}

}  // namespace
