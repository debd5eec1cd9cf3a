// Launches of one job that must not step on each other: run directories, checkpoints and the
// locks that guard them; restarts that resume within a launch and a restart budget that holds
// when the store goes away.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "launcher_harness.h"

namespace launcher_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A job named `name` whose one worker trains `steps` steps through train::Trainer,
// checkpointing every step into `checkpoints`.
std::string WriteTrainingJob(const fs::path& file, const std::string& name, int steps,
                             const fs::path& checkpoints, const std::string& worker_flags = "",
                             const std::string& extra_spec = "") {
  std::ofstream(file) << "apiVersion: trainctl.dev/v1alpha1\n"
                         "kind: TrainingJob\n"
                         "metadata: {name: "
                      << name
                      << "}\n"
                         "spec:\n"
                         "  command: [\""
                      << TestWorker() << "\", \"--train-steps\", \"" << steps
                      << "\", \"--step-ms\", \"20\"" << worker_flags
                      << "]\n"
                         "  rendezvous: {joinTimeout: 30s, lastCall: 300ms, heartbeat: 100ms, "
                         "heartbeatTimeout: 800ms}\n"
                         "  failurePolicy: {maxRestarts: 1, backoff: 50ms}\n"
                         "  checkpoint: {dir: \""
                      << checkpoints.string() << "\", everySteps: 1, keep: 2}\n"
                      << extra_spec;
  return file.string();
}

// trainctl with `args`, started in `cwd` (so that runs/ lands there).
std::vector<std::string> TrainctlIn(const fs::path& cwd, std::vector<std::string> args) {
  std::vector<std::string> argv = {"/usr/bin/env", "-C", cwd.string(), Trainctl()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The run directory trainctl announced ("logs in DIR").
std::string RunDirOf(const std::string& output) {
  std::smatch match;
  std::regex logs("logs in (\\S+)");
  return std::regex_search(output, match, logs) ? match[1].str() : std::string();
}

std::set<std::string> RunCheckpointDirs(const fs::path& checkpoints) {
  std::set<std::string> runs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoints, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("run-", 0) == 0) runs.insert(name);
  }
  return runs;
}

TEST(Runs, TwoLaunchesAtOnceKeepTheirOwnRunDirectoriesTokensAndCheckpoints) {
  ScratchDir dir;
  const fs::path checkpoints = dir.path() / "ckpt";
  const std::string job = WriteTrainingJob(dir.path() / "job.yaml", "same", 30, checkpoints);
  Process a(TrainctlIn(dir.path(), {"run", job}), dir / "a.out");
  Process b(TrainctlIn(dir.path(), {"run", job}), dir / "b.out");
  ASSERT_EQ(a.Wait(60s), 0) << a.Output();
  ASSERT_EQ(b.Wait(60s), 0) << b.Output();

  // Neither resumed the other's checkpoints: both trained all 30 steps from step 0.
  for (const Process* run : {&a, &b}) {
    EXPECT_THAT(run->Output(), HasSubstr("start step 0 value 0")) << run->Output();
    EXPECT_THAT(run->Output(), HasSubstr("trained to step 30")) << run->Output();
    EXPECT_THAT(run->Output(), Not(HasSubstr("resumed from"))) << run->Output();
  }
  const std::string run_a = RunDirOf(a.Output()), run_b = RunDirOf(b.Output());
  ASSERT_FALSE(run_a.empty()) << a.Output();
  ASSERT_FALSE(run_b.empty()) << b.Output();
  EXPECT_NE(run_a, run_b);
  EXPECT_EQ(fs::path(run_a).parent_path(), dir.path() / "runs" / "same");
  // Each kept its own token, and neither's exit removed the other's directory.
  EXPECT_NE(ReadFile(fs::path(run_a) / "token"), ReadFile(fs::path(run_b) / "token"));
  EXPECT_TRUE(fs::exists(fs::path(run_a) / "rank-0.log"));
  EXPECT_TRUE(fs::exists(fs::path(run_b) / "rank-0.log"));
  // Two checkpoint directories, one per launch, each with its own final step.
  const std::set<std::string> runs = RunCheckpointDirs(checkpoints);
  ASSERT_EQ(runs.size(), 2u);
  for (const std::string& run : runs) {
    EXPECT_TRUE(fs::exists(checkpoints / run / "step-30")) << run;
  }
}

TEST(Runs, ASecondRunStartsAtStepZeroAndContinuesOnlyWhenAsked) {
  ScratchDir dir;
  const fs::path checkpoints = dir.path() / "ckpt";
  const std::string job = WriteTrainingJob(dir.path() / "job.yaml", "again", 10, checkpoints);
  Process first(TrainctlIn(dir.path(), {"run", job}), dir / "first.out");
  ASSERT_EQ(first.Wait(60s), 0) << first.Output();
  ASSERT_THAT(first.Output(), HasSubstr("trained to step 10"));

  Process second(TrainctlIn(dir.path(), {"run", job}), dir / "second.out");
  ASSERT_EQ(second.Wait(60s), 0) << second.Output();
  EXPECT_THAT(second.Output(), HasSubstr("start step 0 value 0"));
  EXPECT_THAT(second.Output(), HasSubstr("trained to step 10"));

  // Asked to: the newest checkpoint of an earlier run, into a directory of its own.
  const std::string longer = WriteTrainingJob(dir.path() / "longer.yaml", "again", 15, checkpoints);
  Process third(TrainctlIn(dir.path(), {"run", longer, "--resume"}), dir / "third.out");
  ASSERT_EQ(third.Wait(60s), 0) << third.Output();
  EXPECT_THAT(third.Output(), HasSubstr("start step 10 value 10"));
  EXPECT_THAT(third.Output(), HasSubstr("trained to step 15"));
  EXPECT_EQ(RunCheckpointDirs(checkpoints).size(), 3u);

  // --resume=DIR: that run's checkpoints, whichever is newest.
  std::smatch match;
  const std::string out = first.Output();
  ASSERT_TRUE(std::regex_search(out, match, std::regex("start step 0 value 0 in (\\S+)")));
  Process fourth(TrainctlIn(dir.path(), {"run", longer, "--resume=" + match[1].str()}),
                 dir / "fourth.out");
  ASSERT_EQ(fourth.Wait(60s), 0) << fourth.Output();
  EXPECT_THAT(fourth.Output(), HasSubstr("resumed from " + match[1].str() + "/step-10"));
}

TEST(Runs, ARestartWithinARunResumesItsOwnNewestCheckpoint) {
  ScratchDir dir;
  const fs::path checkpoints = dir.path() / "ckpt";
  const std::string job = WriteTrainingJob(dir.path() / "job.yaml", "restarted", 10, checkpoints,
                                           ", \"--fail-at-step\", \"5\", \"--once\"");
  Process run(TrainctlIn(dir.path(), {"run", job}), dir / "run.out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("fails after step 5"));
  EXPECT_THAT(run.Output(), HasSubstr("restarting (1 of 1)"));
  EXPECT_THAT(run.Output(), HasSubstr("start step 5 value 5"));
  EXPECT_THAT(run.Output(), HasSubstr("trained to step 10"));
  EXPECT_EQ(RunCheckpointDirs(checkpoints).size(), 1u);
}

TEST(Runs, ARunDirectoryInUseIsRefusedNamingItsHolder) {
  ScratchDir dir;
  const fs::path checkpoints = dir.path() / "ckpt";
  const std::string job = WriteTrainingJob(dir.path() / "job.yaml", "busy", 1000, checkpoints);
  const std::string run_dir = dir / "shared-run";
  Process holder(TrainctlIn(dir.path(), {"run", job, "--run-dir", run_dir}), dir / "holder.out");
  ASSERT_TRUE(holder.WaitForOutput("start step 0", 30s)) << holder.Output();

  Process second(TrainctlIn(dir.path(), {"run", job, "--run-dir", run_dir}), dir / "second.out");
  ASSERT_EQ(second.Wait(30s), 1) << second.Output();
  EXPECT_THAT(second.Output(),
              HasSubstr("the run directory " + run_dir + " is in use by another run (pid " +
                        std::to_string(holder.pid())));
  // The holder's files are untouched and it still runs.
  EXPECT_FALSE(holder.Wait(0ms).has_value());
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "token"));
  holder.Signal(SIGTERM);
  ASSERT_TRUE(holder.Wait(30s).has_value());

  // Once its holder is gone the directory can be named again.
  const std::string short_job = WriteTrainingJob(dir.path() / "short.yaml", "busy", 2, checkpoints);
  Process later(TrainctlIn(dir.path(), {"run", short_job, "--run-dir", run_dir}),
                dir / "later.out");
  EXPECT_EQ(later.Wait(60s), 0) << later.Output();
}

TEST(Runs, ACheckpointDirectoryHeldByALiveProcessIsRefusedNamingIt) {
  ScratchDir dir;
  const std::string checkpoints = dir / "ckpt";
  // Two workers started by hand (no launch id): both would use the directory itself.
  auto by_hand = [&](const std::string& steps) {
    return std::vector<std::string>{"/usr/bin/env",       "TRAIN_RANK=0",
                                    "TRAIN_WORLD_SIZE=1", "TRAIN_CHECKPOINT_DIR=" + checkpoints,
                                    TestWorker(),         "--no-barrier",
                                    "--train-steps",      steps,
                                    "--step-ms",          "20"};
  };
  Process holder(by_hand("1000"), dir / "holder.out");
  ASSERT_TRUE(holder.WaitForOutput("start step 0", 30s)) << holder.Output();
  Process second(by_hand("10"), dir / "second.out");
  ASSERT_EQ(second.Wait(30s), 5) << second.Output();
  EXPECT_THAT(second.Output(),
              HasSubstr("checkpoint dir " + checkpoints + " is in use by run - (pid " +
                        std::to_string(holder.pid())));
  EXPECT_THAT(second.Output(), HasSubstr("use another dir or wait"));
  holder.Signal(SIGKILL);
  ASSERT_TRUE(holder.Wait(10s).has_value());
  // The kernel dropped the dead holder's lock: the directory is free again.
  Process after(by_hand("3"), dir / "after.out");
  EXPECT_EQ(after.Wait(30s), 0) << after.Output();
}

TEST(Runs, ANonsenseBackoffFlagIsRefusedNamingTheFlag) {
  ScratchDir dir;
  Process run({Trainctl(), "run", "--backoff", "1ns", "--run-dir", dir / "run", "--", TestWorker()},
              dir / "out");
  ASSERT_EQ(run.Wait(30s), 2) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("--backoff (spec.failurePolicy.backoff)"));
  EXPECT_THAT(run.Output(), HasSubstr("\"1ns\" is too short"));
  EXPECT_FALSE(fs::exists(dir / "run"));
}

// Node 1 keeps running while the store's host (node 0) is killed twice: two fenced rounds
// against maxRestarts 1, so the second one ends the job.
TEST(Runs, FencedRoundsSpendTheRestartBudget) {
  ScratchDir dir;
  const int port = FreePort();
  const std::string token = WriteToken(dir, "token", "fenced-job-token-0123456789abcdef");
  const std::string job = WriteJob(dir, "fenced", {TestWorker(), "--sleep-ms", "60000"},
                                   "  nodes: {min: 2, max: 2}\n"
                                   "  failurePolicy: {maxRestarts: 1, backoff: 50ms}\n");
  Process b(AgentArgs(job, port, token, 1, dir / "b", false), dir / "b.out");
  for (int outage = 0; outage < 2; ++outage) {
    const std::string name = "a" + std::to_string(outage);
    Process a(AgentArgs(job, port, token, 0, dir / name, true), dir / (name + ".out"));
    const std::string ready = "ready rank 1 of 2 restart " + std::to_string(outage);
    ASSERT_TRUE(b.WaitForOutput(ready, 30s)) << a.Output() << b.Output();
    a.Signal(SIGKILL);  // the store and node 0 go away together
    ASSERT_TRUE(a.Wait(10s).has_value());
    if (outage == 0) {
      ASSERT_TRUE(b.WaitForOutput("(fenced); rejoining, restart 1 of 1 (maxRestarts)", 20s))
          << b.Output();
    }
  }
  ASSERT_EQ(b.Wait(30s), 1) << b.Output();
  EXPECT_THAT(b.Output(), HasSubstr("no restarts left (maxRestarts 1, restarts so far 1)"));
  EXPECT_THAT(b.Output(), HasSubstr("cannot reach the store at 127.0.0.1:" + std::to_string(port)));
}

}  // namespace
}  // namespace launcher_test
