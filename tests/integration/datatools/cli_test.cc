// `trainctl data` as a process: what it prints and the exit codes scripts rely on
// (0 success, 1 a bad input file, 2 bad flags).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "command.h"
#include "datatools_test_util.h"

namespace trainctl::data {
namespace {

using testing::Data;
using testing::EntryNames;
using ::testing::HasSubstr;
using testing::IdxBytes;
using testing::ScratchDir;
using testing::SomeBytes;
using testing::WriteBytes;

class DataCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteBytes(dir_ / "images.gz", IdxBytes(0x08, {30, 4, 4}, SomeBytes(480, 1)), true);
    WriteBytes(dir_ / "labels.gz", IdxBytes(0x08, {30}, SomeBytes(30, 2)), true);
    args_ = "import idx --images " + dir_ / "images.gz" + " --labels " + dir_ / "labels.gz" +
            " -o " + dir_ / "out.h5";
  }
  ScratchDir dir_;
  std::string args_;
};

TEST_F(DataCliTest, ImportsThenInspects) {
  auto imported = Data(args_ + " --chunk-rows 8 --compression 9");
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_THAT(imported.output, HasSubstr("images uint8 [30, 4, 4], labels int64 [30]"));
  EXPECT_EQ(imported.output.find('\r'), std::string::npos) << "progress drawn without a TTY";

  auto text = Data("inspect " + dir_ / "out.h5");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("N = 30 rows in each"));
  EXPECT_THAT(text.output, HasSubstr("layout:      chunked, chunks [8, 4, 4]"));
  EXPECT_THAT(text.output, HasSubstr("compression: deflate level 9"));

  auto json = Data("inspect --json " + dir_ / "out.h5");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const nlohmann::json parsed = nlohmann::json::parse(json.output);
  EXPECT_EQ(parsed["rows"], 30);
  EXPECT_EQ(parsed["datasets"][1]["name"], "labels");
}

TEST_F(DataCliTest, ExitCodes) {
  EXPECT_EQ(Data(args_ + " --compression 12").exit_code, 2);
  EXPECT_EQ(Data(args_ + " --chunk-rows 0").exit_code, 2);
  EXPECT_EQ(Data(args_ + " --images-field a/b").exit_code, 2);
  EXPECT_EQ(Data("import idx --images x").exit_code, 2);
  EXPECT_EQ(Data("import").exit_code, 2);
  EXPECT_EQ(Data("inspect").exit_code, 2);

  auto missing = Data("import idx --images " + dir_ / "none.gz" + " --labels " +
                      dir_ / "labels.gz" + " -o " + dir_ / "x.h5");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr(dir_ / "none.gz" + ": no such file"));

  ASSERT_EQ(Data(args_).exit_code, 0);
  auto again = Data(args_);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("exists already; pass --force to replace it"));
  EXPECT_EQ(Data(args_ + " --force").exit_code, 0);

  auto not_hdf5 = Data("inspect " + dir_ / "labels.gz");
  EXPECT_EQ(not_hdf5.exit_code, 1);
  EXPECT_THAT(not_hdf5.output, HasSubstr("not an HDF5 file"));
}

TEST_F(DataCliTest, CtrlCStopsTheImportAndLeavesNothing) {
  // Incompressible images at the slowest level, in small chunks: seconds of work.
  ScratchDir dir;
  WriteBytes(dir / "images", IdxBytes(0x08, {40000, 28, 28}, SomeBytes(40000 * 784, 3)), false);
  WriteBytes(dir / "labels", IdxBytes(0x08, {40000}, SomeBytes(40000, 4)), false);
  const std::string out = dir / "out.h5";
  std::vector<std::string> args = {TRAINCTL_BINARY, "data",     "import",       "idx", "--images",
                                   dir / "images",  "--labels", dir / "labels", "-o",  out,
                                   "--compression", "9",        "--chunk-rows", "64"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  // Wait until the temporary file exists: the import is under way.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (EntryNames(dir).size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(EntryNames(dir).size(), 3u) << "no temporary file appeared";
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed instead of stopping cleanly";
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT);
  EXPECT_THAT(EntryNames(dir), ::testing::ElementsAre("images", "labels"));
}

TEST_F(DataCliTest, ImportsScikitLearnsBostonShape) {
  // The shape of sklearn/datasets/data/boston_house_prices.csv: "ROWS,FEATURES", then a header.
  testing::WriteText(dir_ / "boston.csv",
                     "2,3\nCRIM,ZN,INDUS,MEDV\n0.00632,18,2.31,24\n0.02731,0,7.07,21.6\n");
  auto imported =
      Data("import csv " + dir_ / "boston.csv" + " --target MEDV -o " + dir_ / "boston.h5");
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_THAT(imported.output, HasSubstr("features float64 [2, 3], target float64 [2]"));
  auto text = Data("inspect " + dir_ / "boston.h5");
  EXPECT_THAT(text.output, HasSubstr("columns = [\"CRIM\", \"ZN\", \"INDUS\"]"));

  auto bad = Data("import csv " + dir_ / "boston.csv" + " --target medv -o " + dir_ / "b.h5");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("did you mean \"MEDV\"?"));
  EXPECT_EQ(
      Data("import csv " + dir_ / "boston.csv" + " --skip-rows -1 -o " + dir_ / "b.h5").exit_code,
      2);
}

}  // namespace
}  // namespace trainctl::data
