// Nothing a job starts outlives trainctl run or trainctl agent: grandchildren in the worker's
// session, in a session of their own (setsid) and double-forked daemons, whether the launcher
// is SIGKILLed, stopped with SIGTERM, or ends normally. Each test's processes carry a marker
// ("sleep 301.<token>") and are found by it in /proc, wherever they were re-parented to.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "launcher_harness.h"
#include "process_marker.h"

namespace launcher_test {
namespace {

using ::testing::IsEmpty;
using trainctl::agent::testing::KillMarked;
using trainctl::agent::testing::WaitForMarked;
using trainctl::agent::testing::WaitMarkedGone;
using namespace std::chrono_literals;

// How long the test lets the launcher's watchdog take; it usually needs a few milliseconds.
constexpr auto kGoneDeadline = 3s;

class Lifetime : public ::testing::Test {
 protected:
  // Even when an assertion failed half-way, nothing of the test is left running.
  void TearDown() override { KillMarked(token_); }

  // A worker's script: `sleep 301 & sleep 302` (the background child, the worker itself by
  // exec), plus a child that left the session and a daemon that double-forked out of it.
  std::string Script() const {
    return "sleep 301." + token_ + " & setsid sleep 303." + token_ +
           " & (setsid sh -c 'sleep 304." + token_ + " & exit 0' &); exec sleep 302." + token_;
  }
  static constexpr std::size_t kPerWorker = 4;

  std::vector<std::string> RunArgs(const std::string& nnodes, const std::string& script) const {
    return {Trainctl(),  "run",        "--nproc", "2",  "--nnodes", nnodes,
            "--run-dir", dir_ / "run", "--",      "sh", "-c",       script};
  }

  std::string token_ = trainctl::agent::testing::NewMarkerToken();
  ScratchDir dir_;
};

TEST_F(Lifetime, RunKilledWithSigkillTakesEveryDescendantWithIt) {
  Process run(RunArgs("1", Script()), dir_ / "out");
  ASSERT_TRUE(WaitForMarked(token_, 2 * kPerWorker, 30s)) << run.Output();
  run.Signal(SIGKILL);
  ASSERT_EQ(run.Wait(10s), 128 + SIGKILL);
  EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty()) << run.Output();
}

TEST_F(Lifetime, RunOfTwoAgentProcessesKilledWithSigkillLeavesNothing) {
  // trainctl run -> 2 agent processes -> 2 workers each -> their descendants.
  Process run(RunArgs("2", Script()), dir_ / "out");
  ASSERT_TRUE(WaitForMarked(token_, 4 * kPerWorker, 30s)) << run.Output();
  run.Signal(SIGKILL);
  ASSERT_EQ(run.Wait(10s), 128 + SIGKILL);
  EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty()) << run.Output();
}

TEST_F(Lifetime, RunStoppedWithSigtermLeavesNothing) {
  Process run(RunArgs("1", Script()), dir_ / "out");
  ASSERT_TRUE(WaitForMarked(token_, 2 * kPerWorker, 30s)) << run.Output();
  run.Signal(SIGTERM);
  ASSERT_TRUE(run.Wait(30s).has_value()) << run.Output();
  EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty()) << run.Output();
}

TEST_F(Lifetime, WorkersThatExitNormallyLeaveNothingBehind) {
  // Each worker starts its descendants (rank R's are "sleep 3R0N.<token>"), waits until they
  // run, and exits 0 while they do.
  const std::string t = token_;
  const std::string script = "setsid sleep 3${LOCAL_RANK}03." + t +
                             " & (setsid sh -c \"sleep 3${LOCAL_RANK}04." + t +
                             " & exit 0\" &); sleep 3${LOCAL_RANK}01." + t +
                             " & while [ $(pgrep -c -f \"sleep 3${LOCAL_RANK}0[0-9][.]" + t +
                             "$\") -lt 3 ]; do sleep 0.01; done; exit 0";
  Process run(RunArgs("1", script), dir_ / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty()) << run.Output();
}

TEST_F(Lifetime, AgentKilledWithSigkillTakesEveryDescendantWithIt) {
  const std::string token_file = dir_ / "token";
  std::ofstream(token_file) << "lifetime-token-0123456789abcdef\n";
  fs::permissions(token_file, fs::perms::owner_read | fs::perms::owner_write);
  const std::string job =
      WriteJob(dir_, "lifetime", {"sh", "-c", Script()}, "  nodes: 1\n  procsPerNode: 2\n");
  Process agent(
      {Trainctl(), "agent", job, "--store", "127.0.0.1:" + std::to_string(FreePort()),
       "--token-file", token_file, "--node-rank", "0", "--run-dir", dir_ / "agent", "--host-store"},
      dir_ / "agent.out");
  ASSERT_TRUE(WaitForMarked(token_, 2 * kPerWorker, 30s)) << agent.Output();
  agent.Signal(SIGKILL);
  ASSERT_EQ(agent.Wait(10s), 128 + SIGKILL);
  EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty()) << agent.Output();
}

// Where cgroup2 is mounted ("" when it is not).
std::string Cgroup2Mount() {
  std::ifstream mounts("/proc/self/mountinfo");
  for (std::string line; std::getline(mounts, line);) {
    if (line.find(" - cgroup2 ") == std::string::npos) continue;
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    return mount_point;
  }
  return "";
}

TEST_F(Lifetime, WithoutAWritableCgroupTheSessionFallbackStillKillsTheJob) {
  // A private mount namespace where the cgroup hierarchy is read-only, as in many containers.
  const std::string mount = Cgroup2Mount();
  std::string command;
  for (const std::string& arg :
       RunArgs("1", "sleep 301." + token_ + " & exec sleep 302." + token_)) {
    command += " '" + arg + "'";
  }
  if (!mount.empty()) command = "mount -o remount,bind,ro " + mount + " && exec" + command;
  Process run({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", command},
              dir_ / "out");
  if (!WaitForMarked(token_, 4, 30s)) {
    if (run.Wait(1s).has_value()) GTEST_SKIP() << "no mount namespace here: " << run.Output();
    FAIL() << run.Output();
  }
  EXPECT_THAT(run.Output(), ::testing::HasSubstr("tracked by session instead"));
  run.Signal(SIGKILL);
  ASSERT_EQ(run.Wait(10s), 128 + SIGKILL);
  EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty()) << run.Output();
}

}  // namespace
}  // namespace launcher_test
