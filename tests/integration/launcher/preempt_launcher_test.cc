// Preemption end to end with real processes: SIGTERM to one worker restarts the group from the
// step every rank saved, without spending a restart; a grace shorter than the save ends in
// SIGKILL with the previous checkpoint intact; the same library works under torchrun and
// mpirun; a program that exits 75 without saving is a failure; a second SIGTERM kills at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "../../sanitizer_build.h"
#include "launcher_harness.h"

namespace launcher_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr char kTorchrun[] = "/usr/bin/torchrun";
constexpr char kMpirun[] = "/usr/bin/mpirun";

std::string PreemptWorker() { return PREEMPT_WORKER_BINARY; }

// Every number captured by `pattern`'s first group in `text`.
std::vector<long> All(const std::string& text, const std::string& pattern) {
  std::vector<long> out;
  const std::regex re(pattern);
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    out.push_back(std::stol((*it)[1]));
  }
  return out;
}

std::string Job(const ScratchDir& dir, const std::string& name,
                const std::vector<std::string>& command, const std::string& extra) {
  return WriteJob(dir, name, command,
                  "  checkpoint: {dir: \"" + (dir / "ckpt") + "\", everySteps: 1000}\n" + extra);
}

TEST(PreemptLauncher, ASigtermedWorkerRestartsTheGroupFromItsStepWithoutSpendingARestart) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "pids");
  // maxRestarts 0: a failure would end the job; a preemption must not.
  const std::string job = Job(dir, "preempt-one",
                              {PreemptWorker(), "--steps", "300", "--every", "1000", "--step-ms",
                               "10", "--pid-dir", dir / "pids"},
                              "  procsPerNode: 2\n  failurePolicy: {maxRestarts: 0}\n");
  Process run({Trainctl(), "run", job, "--run-dir", dir / "run"}, dir / "out");
  const std::vector<pid_t> pids = WaitForPids(dir.path() / "pids", 2, 60s);
  ASSERT_EQ(pids.size(), 2u) << run.Output();
  ASSERT_TRUE(run.WaitForOutput("[rank 1] step 20\n", 60s)) << run.Output();
  kill(pids[1], SIGTERM);  // rank 1 only; rank 0 learns it at the step's end
  ASSERT_EQ(run.Wait(120s), 0) << run.Output();
  const std::string out = run.Output();
  const std::vector<long> saved = All(out, R"(\] preempted after saving step (\d+))");
  ASSERT_EQ(saved.size(), 2u) << out;
  EXPECT_EQ(saved[0], saved[1]) << "both ranks saved the same step\n" << out;
  EXPECT_GT(saved[0], 20) << out;
  EXPECT_LT(saved[0], 300) << out;
  EXPECT_THAT(out, HasSubstr("restarting (preemption: not counted against maxRestarts, 0 of 0 "
                             "used)"));
  // 0 steps lost: each rank starts again at the step saved, its state at that step.
  const std::string resumed =
      "start step " + std::to_string(saved[0]) + " counter " + std::to_string(saved[0]);
  EXPECT_THAT(out, HasSubstr("[rank 0] " + resumed)) << out;
  EXPECT_THAT(out, HasSubstr("[rank 1] " + resumed)) << out;
  EXPECT_THAT(out, HasSubstr("[rank 0] trained to step 300"));
}

TEST(PreemptLauncher, AGraceShorterThanTheSaveKillsAtTheGraceAndThePreviousCheckpointIsIntact) {
  ScratchDir dir;
  // A checkpoint every 2 steps of 192 MiB: a save takes far longer than the 20ms grace.
  const std::string job =
      Job(dir, "preempt-slow",
          {PreemptWorker(), "--steps", "1000000", "--every", "2", "--state-mib", "192"},
          "  failurePolicy: {preemptionGrace: 20ms}\n");
  Process run({Trainctl(), "run", job, "--run-dir", dir / "run"}, dir / "out");
  ASSERT_TRUE(run.WaitForOutput("[rank 0] step 3\n", 120s)) << run.Output();  // step 2 is saved
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(60s), 75) << run.Output();
  const std::string out = run.Output();
  EXPECT_THAT(out, HasSubstr("rank(s) 0 did not stop within preemptionGrace (20ms): killed "
                             "(SIGKILL)"));
  EXPECT_THAT(out, Not(HasSubstr("preempted after saving")));

  // Every committed checkpoint verifies; no step torn by the kill is taken for one.
  Process verify({Trainctl(), "ckpt", "verify", dir / "ckpt"}, dir / "verify.out");
  EXPECT_EQ(verify.Wait(120s), 0) << verify.Output();
  const std::vector<long> last_step = All(out, R"(\[rank 0\] step (\d+)\n)");
  ASSERT_FALSE(last_step.empty());
  // A new run resumes the newest committed step: a whole one, its state at that step.
  const std::string resume_job =
      Job(dir, "preempt-slow", {PreemptWorker(), "--steps", "0", "--state-mib", "192"}, "");
  Process resumed({Trainctl(), "run", resume_job, "--resume", "--run-dir", dir / "run2"},
                  dir / "resumed.out");
  ASSERT_EQ(resumed.Wait(120s), 0) << resumed.Output();
  const std::vector<long> start = All(resumed.Output(), R"(start step (\d+) counter)");
  ASSERT_EQ(start.size(), 1u) << resumed.Output();
  EXPECT_GE(start[0], 2);
  EXPECT_EQ(start[0] % 2, 0);
  EXPECT_LE(start[0], last_step.back());
  EXPECT_THAT(resumed.Output(), HasSubstr("start step " + std::to_string(start[0]) + " counter " +
                                          std::to_string(start[0])));
}

// `launcher` runs two ranks of the preempt worker; SIGTERM to rank 1 makes both save one step
// and exit 75; a second launch resumes that step.
void PreemptUnder(const ScratchDir& dir, const std::vector<std::string>& launcher) {
  fs::create_directories(dir.path() / "pids");
  std::vector<std::string> first = launcher;
  first.insert(first.end(), {PreemptWorker(), "--steps", "100000", "--every", "1000", "--step-ms",
                             "10", "--pid-dir", dir / "pids", "--checkpoint-dir", dir / "ckpt"});
  Process run(first, dir / "out");
  const std::vector<pid_t> pids = WaitForPids(dir.path() / "pids", 2, 120s);
  ASSERT_EQ(pids.size(), 2u) << run.Output();
  ASSERT_TRUE(run.WaitForOutput("step 20\n", 60s)) << run.Output();
  kill(pids[1], SIGTERM);
  ASSERT_TRUE(run.Wait(120s).has_value()) << run.Output();
  const std::vector<long> saved = All(run.Output(), R"(preempted after saving step (\d+))");
  ASSERT_FALSE(saved.empty()) << run.Output();
  EXPECT_EQ(std::set<long>(saved.begin(), saved.end()).size(), 1u) << run.Output();

  std::vector<std::string> second = launcher;
  second.insert(second.end(), {PreemptWorker(), "--steps", "0", "--checkpoint-dir", dir / "ckpt"});
  Process again(second, dir / "again.out");
  ASSERT_EQ(again.Wait(120s), 0) << again.Output();
  const std::string resumed =
      "start step " + std::to_string(saved[0]) + " counter " + std::to_string(saved[0]);
  std::size_t found = 0;
  for (std::size_t at = again.Output().find(resumed); at != std::string::npos;
       at = again.Output().find(resumed, at + 1)) {
    ++found;
  }
  EXPECT_EQ(found, 2u) << "both ranks resume step " << saved[0] << "\n" << again.Output();
}

TEST(PreemptLauncher, UnderTorchrunEveryRankSavesTheSameStepAndResumesIt) {
  if (access(kTorchrun, X_OK) != 0) GTEST_SKIP() << "torchrun not installed (python3-torch)";
  ScratchDir dir;
  PreemptUnder(dir, {kTorchrun, "--nproc_per_node", "2", "--no_python", "--redirects", "1", "--tee",
                     "1", "--rdzv_backend", "c10d", "--rdzv_endpoint",
                     "localhost:" + std::to_string(FreePort())});
}

TEST(PreemptLauncher, UnderMpirunEveryRankSavesTheSameStepAndResumesIt) {
  if (access(kMpirun, X_OK) != 0) GTEST_SKIP() << "mpirun not installed (openmpi-bin)";
  ScratchDir dir;
  std::vector<std::string> mpirun = {kMpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2"};
  if (TRAIN_TEST_ADDRESS_SANITIZER) {
    // At exit Open MPI leaves the allocations of components it already unloaded, which
    // LeakSanitizer cannot tell from ours: the ranks run without leak checking (memory errors
    // still halt), as tests/unit/collectives/mpi does.
    mpirun.insert(
        mpirun.end(),
        {"-x", "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:detect_stack_use_after_return=0"});
  }
  PreemptUnder(dir, mpirun);
}

TEST(PreemptLauncher, AProgramThatExits75WithoutSavingSpendsARestartAndFailsWith1) {
  ScratchDir dir;
  const std::string job =
      WriteJob(dir, "fake-preempt", {TestWorker(), "--fail-rank", "0", "--code", "75"},
               "  failurePolicy: {maxRestarts: 1, backoff: 10ms}\n");
  Process run({Trainctl(), "run", job, "--run-dir", dir / "run"}, dir / "out");
  // 75 means "preempted, run again" only with a step saved: this one failed, and trainctl
  // does not exit 75 for a job that failed.
  ASSERT_EQ(run.Wait(60s), 1) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("restarting (1 of 1)"));
  EXPECT_THAT(run.Output(), HasSubstr("no restarts left (maxRestarts 1)"));
}

TEST(PreemptLauncher, AProgramThatDoesNotCheckForPreemptionStillStopsRightAfterItsSave) {
  ScratchDir dir;
  // The launcher tests' worker trains through train::Trainer but never asks
  // PreemptionRequested: after the save, its next step's end ends it with SIGTERM.
  const std::string job =
      WriteJob(dir, "unheeded", {TestWorker(), "--train-steps", "100000", "--step-ms", "10"},
               "  checkpoint: {dir: \"" + (dir / "ckpt") + "\"}\n");
  Process run({Trainctl(), "run", job, "--run-dir", dir / "run"}, dir / "out");
  ASSERT_TRUE(run.WaitForOutput("start step 0", 60s)) << run.Output();
  run.Signal(SIGTERM);
  // Well within the 30s grace.
  ASSERT_EQ(run.Wait(20s), 75) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("SIGTERM ends the program now"));
  const std::vector<long> saved = All(run.Output(), R"(rank\(s\) 0 saved step (\d+))");
  ASSERT_EQ(saved.size(), 1u) << run.Output();
  EXPECT_GT(saved[0], 0);
}

TEST(PreemptLauncher, ASecondSigtermKillsAtOnce) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "pids");
  Process run({Trainctl(), "run", "--nproc", "2", "--run-dir", dir / "run", "--", TestWorker(),
               "--sleep-ms", "60000", "--ignore-term", "--pid-dir", dir / "pids"},
              dir / "out");
  ASSERT_EQ(WaitForPids(dir.path() / "pids", 2, 30s).size(), 2u) << run.Output();
  run.Signal(SIGTERM);
  // The workers ignore SIGTERM: trainctl waits out the 30s grace...
  EXPECT_FALSE(run.Wait(1s).has_value()) << run.Output();
  run.Signal(SIGTERM);
  // ...unless told again: then not a clean preemption, but 128+SIGTERM.
  EXPECT_EQ(run.Wait(5s), 128 + SIGTERM) << run.Output();
}

}  // namespace
}  // namespace launcher_test
