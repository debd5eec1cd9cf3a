// trainctl run end to end: real processes, real sockets, real signals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "launcher_harness.h"

namespace launcher_test {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// NAME=value lines a rank printed (its output lines carry the "[rank N] " prefix).
std::map<std::string, std::string> EnvOfRank(const std::string& output, int rank) {
  std::map<std::string, std::string> vars;
  const std::string prefix = "[rank " + std::to_string(rank) + "] ";
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    line = line.substr(prefix.size());
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

TEST(Run, FourWorkersOverTwoAgentsGetTheWholeContract) {
  ScratchDir dir;
  Process run({Trainctl(), "run", "--nproc", "2", "--nnodes", "2", "--run-dir", dir / "run", "--",
               TestWorker(), "--print-env"},
              dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  const std::string out = run.Output();
  std::set<std::string> stores, masters;
  for (int rank = 0; rank < 4; ++rank) {
    auto env = EnvOfRank(out, rank);
    SCOPED_TRACE("rank " + std::to_string(rank) + "\n" + out);
    EXPECT_EQ(env["TRAIN_RANK"], std::to_string(rank));
    EXPECT_EQ(env["RANK"], std::to_string(rank));
    EXPECT_EQ(env["TRAIN_WORLD_SIZE"], "4");
    EXPECT_EQ(env["WORLD_SIZE"], "4");
    EXPECT_EQ(env["TRAIN_LOCAL_RANK"], std::to_string(rank % 2));
    EXPECT_EQ(env["LOCAL_RANK"], std::to_string(rank % 2));
    EXPECT_EQ(env["TRAIN_LOCAL_WORLD_SIZE"], "2");
    EXPECT_EQ(env["TRAIN_NODE_RANK"], std::to_string(rank / 2));
    EXPECT_EQ(env["GROUP_RANK"], std::to_string(rank / 2));
    EXPECT_EQ(env["TRAIN_NUM_NODES"], "2");
    EXPECT_EQ(env["TRAIN_RESTART_COUNT"], "0");
    EXPECT_EQ(env["TRAIN_JOB_ID"], "launcher-test-worker");
    EXPECT_THAT(env["TRAIN_STORE_ADDR"], ::testing::StartsWith("127.0.0.1:"));
    // MASTER_* are torch's env:// rendezvous: a free port of its own, never the store's.
    EXPECT_EQ(env["MASTER_ADDR"], "127.0.0.1");
    EXPECT_NE(env["MASTER_ADDR"] + ":" + env["MASTER_PORT"], env["TRAIN_STORE_ADDR"]);
    masters.insert(env["MASTER_ADDR"] + ":" + env["MASTER_PORT"]);
    EXPECT_EQ(env["TRAIN_TOKEN_FILE"], (dir.path() / "run" / "token").string());
    stores.insert(env["TRAIN_STORE_ADDR"]);
  }
  EXPECT_EQ(stores.size(), 1u) << "every rank meets at the same store";
  EXPECT_EQ(masters.size(), 1u) << "every rank of both nodes meets at rank 0's TCPStore";
  // Per-rank logs hold the unprefixed lines.
  std::ifstream log(dir.path() / "run" / "rank-3.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\nTRAIN_RANK=3\n"));
  EXPECT_THAT(text.str(), ::testing::Not(HasSubstr("[rank")));
}

TEST(Run, TheTokenIsNeverOnACommandLineOrInTheEnvironment) {
  ScratchDir dir;
  Process run({Trainctl(), "run", "--nproc", "1", "--run-dir", dir / "run", "--", TestWorker(),
               "--print-env"},
              dir / "out");
  ASSERT_EQ(run.Wait(30s), 0) << run.Output();
  std::ifstream in(dir.path() / "run" / "token");
  std::string token;
  in >> token;
  ASSERT_GE(token.size(), 32u);
  EXPECT_THAT(run.Output(), ::testing::Not(HasSubstr(token)));
  EXPECT_EQ(fs::status(dir.path() / "run" / "token").permissions() & fs::perms::others_read,
            fs::perms::none);
}

TEST(Run, AWorkerThatFailsOnceIsRestartedAndTheJobSucceeds) {
  ScratchDir dir;
  const std::string job =
      WriteJob(dir, "fail-once", {TestWorker(), "--fail-rank", "1", "--code", "3", "--once"},
               "  procsPerNode: 2\n  failurePolicy: {maxRestarts: 2, backoff: 100ms}\n");
  Process run({Trainctl(), "run", job, "--run-dir", dir / "run"}, dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  const std::string out = run.Output();
  EXPECT_THAT(out, HasSubstr("rank 1 fails with code 3"));
  EXPECT_THAT(out, HasSubstr("rank 1 exited with code 3; restarting (1 of 2)"));
  EXPECT_THAT(out, HasSubstr("ready rank 1 of 2 restart 1"));
  EXPECT_THAT(out, HasSubstr("ready rank 0 of 2 restart 1"));
}

TEST(Run, RestartsExhaustedExitWithTheWorkersCodeAndNameTheRank) {
  ScratchDir dir;
  const std::string job =
      WriteJob(dir, "always-fails", {TestWorker(), "--fail-rank", "1", "--code", "7"},
               "  procsPerNode: 2\n  failurePolicy: {maxRestarts: 1, backoff: 50ms}\n");
  Process run({Trainctl(), "run", job, "--run-dir", dir / "run"}, dir / "out");
  ASSERT_EQ(run.Wait(60s), 7) << run.Output();
  const std::string out = run.Output();
  EXPECT_THAT(out, HasSubstr("job always-fails failed after 1 restart(s): rank 1 (node 0 on"));
  EXPECT_THAT(out, HasSubstr("exited with code 7"));
  EXPECT_THAT(out, HasSubstr("last lines of rank 1"));
  EXPECT_THAT(out, HasSubstr("  | rank 1 fails with code 7"));
  EXPECT_THAT(out, HasSubstr("no restarts left (maxRestarts 1); giving up"));
}

TEST(Run, FailOnExitCodesEndTheJobWithoutRestarting) {
  ScratchDir dir;
  const std::string job =
      WriteJob(dir, "usage-error", {TestWorker(), "--fail-rank", "0", "--code", "2"},
               "  failurePolicy: {maxRestarts: 5, failOnExitCodes: [2]}\n");
  Process run({Trainctl(), "run", job, "--run-dir", dir / "run"}, dir / "out");
  ASSERT_EQ(run.Wait(30s), 2) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("exit code 2 is in failOnExitCodes; giving up"));
  EXPECT_THAT(run.Output(), ::testing::Not(HasSubstr("restart 1")));
}

TEST(Run, AMissingProgramFailsAtOnceWithItsName) {
  ScratchDir dir;
  Process run({Trainctl(), "run", "--run-dir", dir / "run", "--", "/no/such/program"}, dir / "out");
  ASSERT_EQ(run.Wait(30s), 127) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("/no/such/program"));
}

TEST(Run, SigintReachesEveryWorker) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "pids");
  fs::create_directories(dir.path() / "signals");
  Process run({Trainctl(), "run", "--nproc", "3", "--run-dir", dir / "run", "--", TestWorker(),
               "--sleep-ms", "60000", "--pid-dir", dir / "pids", "--signal-dir", dir / "signals"},
              dir / "out");
  ASSERT_EQ(WaitForPids(dir.path() / "pids", 3, 30s).size(), 3u) << run.Output();
  run.Signal(SIGINT);
  ASSERT_EQ(run.Wait(20s), 130) << run.Output();
  for (int rank = 0; rank < 3; ++rank) {
    std::ifstream in(dir.path() / "signals" / ("signal-rank-" + std::to_string(rank)));
    int signal = 0;
    EXPECT_TRUE(in >> signal) << "rank " << rank << " got no signal";
    EXPECT_EQ(signal, SIGTERM) << "workers are stopped with SIGTERM";
  }
}

TEST(Run, ASecondCtrlCKillsAtOnce) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "pids");
  Process run({Trainctl(), "run", "--nproc", "2", "--run-dir", dir / "run", "--", TestWorker(),
               "--sleep-ms", "60000", "--ignore-term", "--pid-dir", dir / "pids"},
              dir / "out");
  ASSERT_EQ(WaitForPids(dir.path() / "pids", 2, 30s).size(), 2u) << run.Output();
  run.Signal(SIGINT);
  // The workers ignore SIGTERM: trainctl waits out its grace period...
  EXPECT_FALSE(run.Wait(1s).has_value()) << run.Output();
  run.Signal(SIGINT);
  // ...unless asked again.
  EXPECT_EQ(run.Wait(3s), 130) << run.Output();
}

TEST(Run, TheStatusLineOnATerminalShowsRanksAndProgress) {
  if (access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "script(1) not installed";
  ScratchDir dir;
  // script(1) gives trainctl a pseudo-terminal, as a user's shell would.
  const std::string command = Trainctl() + " run --nproc 2 --run-dir " + (dir / "run") + " -- " +
                              TestWorker() + " --sleep-ms 1500 --progress";
  Process run({"/usr/bin/script", "-qfec", command, "/dev/null"}, dir / "out");
  ASSERT_EQ(run.Wait(30s), 0) << run.Output();
  const std::string out = run.Output();
  EXPECT_THAT(out, HasSubstr("round 0 | 2 ranks up | step "));
  EXPECT_THAT(out, HasSubstr("restarts 0 | 00:00:0"));
  EXPECT_THAT(out, HasSubstr("\r\x1b[K")) << "the status line is erased before each line";
}

TEST(Run, KillingTrainctlLeavesNoWorkerBehind) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "pids");
  Process run({Trainctl(), "run", "--nproc", "2", "--nnodes", "2", "--run-dir", dir / "run", "--",
               TestWorker(), "--sleep-ms", "60000", "--pid-dir", dir / "pids"},
              dir / "out");
  auto pids = WaitForPids(dir.path() / "pids", 4, 30s);
  ASSERT_EQ(pids.size(), 4u) << run.Output();
  run.Signal(SIGKILL);
  ASSERT_EQ(run.Wait(5s), 128 + SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (pid_t pid : pids) {
    while (Alive(pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_FALSE(Alive(pid)) << "worker " << pid << " outlived trainctl";
  }
}

TEST(Run, AHungWorkerIsFoundByItsHeartbeatAndTheGroupRestarts) {
  ScratchDir dir;
  const std::string job =
      WriteJob(dir, "hang-once", {TestWorker(), "--hang-rank", "1", "--once"},
               "  procsPerNode: 2\n  failurePolicy: {maxRestarts: 1, backoff: 50ms}\n");
  Process run({Trainctl(), "run", job, "--run-dir", dir / "run"}, dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("rank 1 missed its heartbeats for 800 ms while running"));
  EXPECT_THAT(run.Output(), HasSubstr("ready rank 1 of 2 restart 1"));
}

TEST(Run, BadFlagsAndSpecsAreUsageErrors) {
  ScratchDir dir;
  Process nothing({Trainctl(), "run"}, dir / "out1");
  EXPECT_EQ(nothing.Wait(10s), 2);
  EXPECT_THAT(nothing.Output(), HasSubstr("nothing to run"));
  Process bad({Trainctl(), "run", "--nproc", "0", "--", "/bin/true"}, dir / "out2");
  EXPECT_EQ(bad.Wait(10s), 2);
  EXPECT_THAT(bad.Output(), HasSubstr("--nproc (spec.procsPerNode): 0 is out of range"));
  Process nodes({Trainctl(), "run", "--nnodes", "two", "--", "/bin/true"}, dir / "out3");
  EXPECT_EQ(nodes.Wait(10s), 2);
  EXPECT_THAT(nodes.Output(), HasSubstr("--nnodes \"two\" is not a node count"));
}

}  // namespace
}  // namespace launcher_test
