// What torchrun sets for its workers, set by trainctl's agent too, and the error file a
// Python worker's @record writes, read back into the root-cause summary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "failure_report.h"
#include "torch_env.h"

namespace trainctl::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

WorkerSpec Python(int rank, const std::string& log_path = "") {
  WorkerSpec spec;
  spec.rank = rank;
  spec.argv = {"/usr/bin/python3", "train.py"};
  spec.env = {{"PATH", "/usr/bin"}};
  spec.log_path = log_path;
  return spec;
}

TEST(TorchrunEnvTest, WorkersGetWhatTorchrunSets) {
  WorkerSpec spec = Python(5, "/run/rank-5.log");
  AddTorchrunVariables({8, 4, 3}, &spec, nullptr);
  EXPECT_EQ(spec.env["PYTHONUNBUFFERED"], "1");
  EXPECT_EQ(spec.env["OMP_NUM_THREADS"], "1");
  EXPECT_EQ(spec.env["TORCHELASTIC_ERROR_FILE"], "/run/rank-5.error.json");
  EXPECT_EQ(spec.env["TORCHELASTIC_MAX_RESTARTS"], "3");
  EXPECT_EQ(spec.env["TORCHELASTIC_USE_AGENT_STORE"], "False");
  EXPECT_EQ(spec.env["ROLE_NAME"], "default");
  EXPECT_EQ(spec.env["ROLE_RANK"], "5");
  EXPECT_EQ(spec.env["ROLE_WORLD_SIZE"], "8");
  EXPECT_EQ(spec.env["NCCL_ASYNC_ERROR_HANDLING"], "1");
}

TEST(TorchrunEnvTest, TheUsersValuesWin) {
  WorkerSpec spec = Python(0);
  spec.env["PYTHONUNBUFFERED"] = "";
  spec.env["OMP_NUM_THREADS"] = "4";
  spec.env["ROLE_NAME"] = "trainer";
  AddTorchrunVariables({2, 2, 0}, &spec, nullptr);
  EXPECT_EQ(spec.env["PYTHONUNBUFFERED"], "");
  EXPECT_EQ(spec.env["OMP_NUM_THREADS"], "4");
  EXPECT_EQ(spec.env["ROLE_NAME"], "trainer");
}

TEST(TorchrunEnvTest, OneWorkerPerNodeOrAProgramGetsNeitherDefault) {
  WorkerSpec single = Python(0);
  AddTorchrunVariables({1, 1, 0}, &single, nullptr);
  EXPECT_EQ(single.env.count("OMP_NUM_THREADS"), 0u) << "torchrun sets it only for nproc > 1";
  WorkerSpec program;
  program.argv = {"./train"};
  AddTorchrunVariables({2, 2, 0}, &program, nullptr);
  EXPECT_EQ(program.env.count("PYTHONUNBUFFERED"), 0u);
  EXPECT_TRUE(RunsPython({"python3.11", "-m", "x"}));
  EXPECT_TRUE(RunsPython({"./run.py"}));
  EXPECT_FALSE(RunsPython({"./pythonic"}));
}

class TorchrunErrorFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("torchrun_env_test." + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// What torch 1.13's ErrorHandler.record_exception writes.
constexpr char kRecorded[] = R"({"message": {"message": "ValueError: bad lr 7", "extraInfo":
  {"py_callstack": "Traceback (most recent call last):\n  File \"train.py\", line 8, in main\n    raise ValueError(\"bad lr 7\")\nValueError: bad lr 7\n",
   "timestamp": "1700000000"}}})";

TEST_F(TorchrunErrorFileTest, ARecordedExceptionReachesTheSummary) {
  const std::string log = (dir_ / "rank-1.log").string();
  std::ofstream(ErrorFileBeside(log)) << kRecorded;
  WorkerExit exit;
  exit.rank = 1;
  exit.exit_code = 1;
  const FailureReport report = ReportExit(exit, 0, "host", log, {"last line"});
  EXPECT_EQ(report.error, "ValueError: bad lr 7");
  ASSERT_EQ(report.traceback.size(), 4u);
  EXPECT_EQ(report.traceback.back(), "ValueError: bad lr 7");
  // It goes through the store as JSON.
  auto copy = FailureReport::FromJson(report.ToJson());
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->traceback, report.traceback);
  std::string summary;
  for (const std::string& line : copy->Summary("job", 0)) summary += line + "\n";
  EXPECT_THAT(summary, HasSubstr("rank 1 raised ValueError: bad lr 7"));
  EXPECT_THAT(summary, HasSubstr("  |     raise ValueError(\"bad lr 7\")"));
  EXPECT_THAT(summary, HasSubstr(ErrorFileBeside(log)));
}

TEST_F(TorchrunErrorFileTest, AStaleErrorFileIsRemovedBeforeTheWorkerStarts) {
  const std::string log = (dir_ / "rank-0.log").string();
  std::ofstream(ErrorFileBeside(log)) << kRecorded;  // left by the previous round
  WorkerSpec spec = Python(0, log);
  AddTorchrunVariables({1, 1, 0}, &spec, nullptr);
  EXPECT_FALSE(fs::exists(ErrorFileBeside(log)));
  WorkerExit exit;
  exit.signal = 9;
  const FailureReport report = ReportExit(exit, 0, "host", log, {"killed mid-step"});
  EXPECT_EQ(report.error, "");
  std::string summary;
  for (const std::string& line : report.Summary("job", 0)) summary += line + "\n";
  EXPECT_THAT(summary, HasSubstr("  | killed mid-step")) << "no error file: the last lines";
}

TEST(TorchrunErrorFileFormatTest, ReadsBothFormatsAndRejectsOthers) {
  FailureReport plain;
  EXPECT_TRUE(ReadTorchErrorFile(R"({"message": "RuntimeError: x"})", &plain));
  EXPECT_EQ(plain.error, "RuntimeError: x");
  FailureReport none;
  EXPECT_FALSE(ReadTorchErrorFile("not json", &none));
  EXPECT_FALSE(ReadTorchErrorFile(R"({"other": 1})", &none));
  EXPECT_EQ(ErrorFileBeside("/r/rank-12.log"), "/r/rank-12.error.json");
}

}  // namespace
}  // namespace trainctl::agent
