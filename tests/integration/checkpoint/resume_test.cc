// End to end: a 4-worker job under trainctl run, checkpointing through train::Trainer. A run
// in which rank 1 is SIGKILLed mid-training (the launcher restarts the group, which resumes
// from the newest checkpoint) ends with the same parameter bits as a run never interrupted.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../../scratch_dir.h"
#include "train/checkpoint.h"

namespace checkpoint_test {
namespace {

namespace fs = std::filesystem;
using ::train::testing::ScratchDir;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct RunResult {
  int exit_code = -1;
  std::string output;
  std::string final_params;  // hex, written by rank 0
};

// Runs the regression job with its checkpoints in `dir`/ckpt; `extra` goes to the worker.
RunResult RunJob(const fs::path& dir, const std::string& name,
                 const std::vector<std::string>& extra) {
  const fs::path out = dir / (name + ".final");
  std::string command = "[\"" + std::string(REGRESSION_WORKER_BINARY) +
                        "\", \"--steps\", \"60\", \"--every\", \"5\", \"--out\", \"" +
                        out.string() + "\"";
  for (const auto& arg : extra) command += ", \"" + arg + "\"";
  command += "]";
  const fs::path job = dir / (name + ".yaml");
  std::ofstream(job) << "apiVersion: trainctl.dev/v1alpha1\n"
                        "kind: TrainingJob\n"
                        "metadata: {name: "
                     << name << "}\n"
                     << "spec:\n"
                        "  command: "
                     << command << "\n"
                     << "  procsPerNode: 4\n"
                        "  failurePolicy: {maxRestarts: 2, backoff: 100ms}\n"
                        "  collectives: {backend: cpu, timeout: 60s}\n"
                        "  checkpoint: {dir: "
                     << (dir / (name + "-ckpt")).string() << "}\n";
  const fs::path log = dir / (name + ".log");
  const std::string shell = std::string(TRAINCTL_BINARY) + " run " + job.string() + " --run-dir " +
                            (dir / (name + "-run")).string() + " > " + log.string() + " 2>&1";
  const int status = std::system(shell.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.output = ReadFile(log);
  result.final_params = ReadFile(out);
  return result;
}

TEST(Resume, AJobWhoseWorkerWasKilledEndsBitwiseEqualToOneNeverInterrupted) {
  ScratchDir scratch;
  const RunResult clean = RunJob(scratch.path(), "clean", {});
  ASSERT_EQ(clean.exit_code, 0) << clean.output;
  ASSERT_FALSE(clean.final_params.empty()) << clean.output;

  const fs::path marker = scratch.path() / "died";
  const RunResult killed = RunJob(
      scratch.path(), "killed", {"--die-at", "23", "--die-rank", "1", "--marker", marker.string()});
  ASSERT_EQ(killed.exit_code, 0) << killed.output;
  ASSERT_TRUE(fs::exists(marker)) << "rank 1 never died:\n" << killed.output;
  EXPECT_NE(killed.output.find("resumed from"), std::string::npos)
      << "the restarted group did not resume from a checkpoint:\n"
      << killed.output;
  EXPECT_EQ(killed.final_params, clean.final_params) << killed.output;

  // The run's checkpoints (in its own run-<launch id>/, which the restart resumed) are whole,
  // and the newest is the last step.
  std::vector<fs::path> runs;
  for (const auto& entry : fs::directory_iterator(scratch.path() / "killed-ckpt")) {
    if (entry.path().filename().string().rfind("run-", 0) == 0) runs.push_back(entry.path());
  }
  ASSERT_EQ(runs.size(), 1u) << "one launch, one run directory";
  auto list = train::ListCheckpoints(runs.front().string());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_FALSE(list->empty());
  EXPECT_EQ(list->front().step, 60);
  EXPECT_EQ(list->front().world_size, 4);
  for (const auto& info : *list) EXPECT_TRUE(train::VerifyCheckpoint(info.path).ok()) << info.path;
}

}  // namespace
}  // namespace checkpoint_test
