// Starting workers, their output, their exits, and starts that fail.
#include "worker_group.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "agent_test_util.h"

namespace trainctl::agent {
namespace {

using testing::CapturedTerminal;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ReadFile;
using testing::ShellWorker;
using ::testing::UnorderedElementsAre;
using ::train::testing::ScratchDir;

class WorkerGroupTest : public ::testing::Test {
 protected:
  std::unique_ptr<WorkerGroup> MustStart(std::vector<WorkerSpec> specs) {
    auto group = WorkerGroup::Start(std::move(specs), terminal_.get());
    EXPECT_TRUE(group.ok()) << group.status();
    return group.ok() ? std::move(group).value() : nullptr;
  }

  // Every exit of `group`, in the order they were reported.
  std::vector<WorkerExit> WaitAll(WorkerGroup& group) {
    std::vector<WorkerExit> exits;
    while (auto exit = group.WaitAny(std::chrono::seconds(5))) exits.push_back(*exit);
    EXPECT_EQ(group.running(), 0);
    return exits;
  }

  // True when this process has no child left, not even one waiting to be reaped.
  static bool NoChildren() {
    siginfo_t info{};
    return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD;
  }

  ScratchDir dir_;
  CapturedTerminal terminal_{dir_};
};

TEST_F(WorkerGroupTest, PrintsPrefixedLinesOnTheTerminalAndRawLinesInTheLog) {
  std::filesystem::path log0 = dir_.path() / "logs" / "run-1" / "rank-0.log";  // dirs created
  std::filesystem::path log1 = dir_.path() / "rank-1.log";
  { std::ofstream(log1) << "from an earlier round\n"; }
  WorkerSpec rank0 = ShellWorker(0, "echo 'epoch 1 loss 0.5'; echo 'a warning' >&2");
  rank0.log_path = log0.string();
  WorkerSpec rank1 = ShellWorker(1, "echo 'epoch 1 loss 0.6'");
  rank1.log_path = log1.string();
  auto group = MustStart({rank0, rank1});
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(WaitAll(*group).size(), 2u);

  EXPECT_THAT(terminal_.Lines(),
              UnorderedElementsAre("[rank 0] epoch 1 loss 0.5", "[rank 0] a warning",
                                   "[rank 1] epoch 1 loss 0.6"));
  // stdout and stderr share one pipe, so the log keeps the order the worker wrote them in.
  EXPECT_EQ(ReadFile(log0), "epoch 1 loss 0.5\na warning\n");
  EXPECT_EQ(ReadFile(log1), "from an earlier round\nepoch 1 loss 0.6\n");  // appended
}

TEST_F(WorkerGroupTest, FlushesAPartialLastLine) {
  auto group = MustStart({ShellWorker(3, "printf 'line\\nno newline at the end'")});
  ASSERT_NE(group, nullptr);
  WaitAll(*group);
  EXPECT_THAT(terminal_.Lines(), ElementsAre("[rank 3] line", "[rank 3] no newline at the end"));
  EXPECT_THAT(group->LastLines(3, 1), ElementsAre("no newline at the end"));
}

TEST_F(WorkerGroupTest, BreaksALineLongerThan64KiB) {
  WorkerSpec spec = ShellWorker(0, "head -c 150000 /dev/zero | tr '\\0' x; echo; echo after");
  spec.log_path = (dir_.path() / "rank-0.log").string();
  auto group = MustStart({spec});
  ASSERT_NE(group, nullptr);
  WaitAll(*group);
  std::vector<std::string> lines = testing::SplitLines(ReadFile(spec.log_path));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], std::string(64 * 1024, 'x'));
  EXPECT_EQ(lines[1], std::string(64 * 1024, 'x'));
  EXPECT_EQ(lines[2], std::string(150000 - 2 * 64 * 1024, 'x'));
  EXPECT_EQ(lines[3], "after");
}

TEST_F(WorkerGroupTest, LastLinesReturnsTheTailOfWhatARankPrinted) {
  auto group =
      MustStart({ShellWorker(2, "i=1; while [ $i -le 100 ]; do echo $i; i=$((i+1)); done")});
  ASSERT_NE(group, nullptr);
  WaitAll(*group);
  EXPECT_THAT(group->LastLines(2, 3), ElementsAre("98", "99", "100"));
  std::vector<std::string> kept = group->LastLines(2, 1000);
  ASSERT_EQ(kept.size(), 50u);  // a bounded tail, not the whole output
  EXPECT_EQ(kept.front(), "51");
  EXPECT_THAT(group->LastLines(7, 3), IsEmpty());  // no such rank
}

TEST_F(WorkerGroupTest, ReportsAnExitOnlyWithItsLastLines) {
  auto group = MustStart({ShellWorker(0, "echo 'CUDA error: out of memory' >&2; exit 1")});
  ASSERT_NE(group, nullptr);
  auto exit = group->WaitAny(std::chrono::seconds(5));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 1);
  EXPECT_THAT(group->LastLines(0, 10), ElementsAre("CUDA error: out of memory"));
}

TEST_F(WorkerGroupTest, WaitAnyReportsExitCodesAndSignals) {
  auto before = std::chrono::system_clock::now();
  auto group = MustStart({ShellWorker(0, "exit 3"), ShellWorker(1, "kill -TERM $$"),
                          ShellWorker(2, "kill -KILL $$"), ShellWorker(3, "true")});
  ASSERT_NE(group, nullptr);
  std::vector<pid_t> pids = group->pids();
  ASSERT_EQ(pids.size(), 4u);
  EXPECT_EQ(group->running(), 4);

  std::map<int, WorkerExit> by_rank;
  for (const WorkerExit& exit : WaitAll(*group)) by_rank[exit.rank] = exit;
  ASSERT_EQ(by_rank.size(), 4u);
  EXPECT_EQ(by_rank[0].exit_code, 3);
  EXPECT_EQ(by_rank[0].ShellCode(), 3);
  EXPECT_FALSE(by_rank[0].success());
  EXPECT_EQ(by_rank[0].Describe(), "exited with code 3");
  EXPECT_EQ(by_rank[1].signal, SIGTERM);
  EXPECT_EQ(by_rank[1].ShellCode(), 128 + SIGTERM);
  EXPECT_EQ(by_rank[1].Describe(), "killed by signal 15 (SIGTERM)");
  EXPECT_EQ(by_rank[2].ShellCode(), 137);
  EXPECT_EQ(by_rank[2].Describe(), "killed by signal 9 (SIGKILL)");
  EXPECT_TRUE(by_rank[3].success());
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_EQ(by_rank[rank].pid, pids[rank]);
    EXPECT_GE(by_rank[rank].when, before);
    EXPECT_LE(by_rank[rank].when, std::chrono::system_clock::now());
  }
  // Each exit is reported once; with none left, WaitAny does not wait.
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(group->WaitAny(std::chrono::seconds(10)).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(WorkerGroupTest, WaitAnyTimesOutWhileWorkersRun) {
  auto group = MustStart({ShellWorker(0, "sleep 5")});
  ASSERT_NE(group, nullptr);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(group->WaitAny(std::chrono::milliseconds(100)).has_value());
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(100));
  EXPECT_LT(waited, std::chrono::seconds(2));
  EXPECT_EQ(group->running(), 1);
}

TEST_F(WorkerGroupTest, AMissingProgramFailsStartAndLeavesNothingRunning) {
  auto group =
      WorkerGroup::Start({ShellWorker(0, "sleep 100"), ShellWorker(1, "sleep 100"),
                          testing::Worker(2, {"no-such-trainer", "--lr=0.1"}, {{"PATH", "/bin"}})},
                         terminal_.get());
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), train::StatusCode::kNotFound);
  EXPECT_THAT(group.status().message(), HasSubstr("rank 2"));
  EXPECT_THAT(group.status().message(), HasSubstr("\"no-such-trainer\""));
  EXPECT_THAT(group.status().message(), HasSubstr("No such file or directory"));
  EXPECT_THAT(group.status().message(), HasSubstr("PATH \"/bin\""));
  EXPECT_TRUE(NoChildren()) << "the workers started before the failure are still around";
}

TEST_F(WorkerGroupTest, AProgramWithoutExecutePermissionIsPermissionDenied) {
  std::filesystem::path script = dir_.path() / "train.sh";
  { std::ofstream(script) << "#!/bin/sh\necho hi\n"; }
  ASSERT_EQ(::chmod(script.c_str(), 0644), 0);
  auto group = WorkerGroup::Start({testing::Worker(0, {script.string()})}, terminal_.get());
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), train::StatusCode::kPermissionDenied);
  EXPECT_THAT(group.status().message(), HasSubstr(script.string()));
  EXPECT_THAT(group.status().message(), HasSubstr("Permission denied"));
  EXPECT_TRUE(NoChildren());
}

TEST_F(WorkerGroupTest, AMissingWorkingDirectoryFailsStartNamingIt) {
  WorkerSpec spec = ShellWorker(0, "true");
  spec.working_dir = (dir_.path() / "no" / "such" / "dir").string();
  auto group = WorkerGroup::Start({spec}, terminal_.get());
  ASSERT_FALSE(group.ok());
  EXPECT_THAT(group.status().message(), HasSubstr(spec.working_dir));
  EXPECT_THAT(group.status().message(), HasSubstr("No such file or directory"));
  EXPECT_TRUE(NoChildren());
}

TEST_F(WorkerGroupTest, AnEmptyCommandIsRejected) {
  auto group = WorkerGroup::Start({testing::Worker(4, {})}, terminal_.get());
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), train::StatusCode::kInvalidArgument);
  EXPECT_THAT(group.status().message(), HasSubstr("rank 4"));
}

TEST_F(WorkerGroupTest, AnUnwritableLogFailsStartNamingIt) {
  std::filesystem::path blocker = dir_.path() / "file";
  { std::ofstream(blocker) << "x"; }
  WorkerSpec spec = ShellWorker(0, "true");
  spec.log_path = (blocker / "rank-0.log").string();  // a file where a directory should be
  auto group = WorkerGroup::Start({spec}, terminal_.get());
  ASSERT_FALSE(group.ok());
  EXPECT_THAT(group.status().message(), HasSubstr(blocker.string()));
  EXPECT_TRUE(NoChildren());
}

TEST_F(WorkerGroupTest, AppliesTheEnvironmentAndWorkingDirectory) {
  WorkerSpec spec = ShellWorker(0, "echo \"rank=$TRAIN_RANK\"; echo \"home=${HOME-unset}\"; pwd");
  spec.env["TRAIN_RANK"] = "0";
  spec.working_dir = dir_.path().string();
  auto group = MustStart({spec});
  ASSERT_NE(group, nullptr);
  WaitAll(*group);
  // The spec's env is the whole environment: nothing of the launcher's leaks in (HOME).
  EXPECT_THAT(
      group->LastLines(0, 3),
      ElementsAre("rank=0", "home=unset", std::filesystem::canonical(dir_.path()).string()));
}

TEST_F(WorkerGroupTest, FindsTheProgramInTheWorkersPath) {
  std::filesystem::path bin = dir_.path() / "bin";
  std::filesystem::create_directories(bin);
  { std::ofstream(bin / "my-trainer") << "#!/bin/sh\necho \"trainer $1\"\n"; }
  ASSERT_EQ(::chmod((bin / "my-trainer").c_str(), 0755), 0);
  WorkerSpec spec = testing::Worker(0, {"my-trainer", "--epochs=3"},
                                    {{"PATH", "/nonexistent:" + bin.string() + ":/bin"}});
  auto group = MustStart({spec});
  ASSERT_NE(group, nullptr);
  auto exit = group->WaitAny(std::chrono::seconds(5));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe();
  EXPECT_THAT(group->LastLines(0, 1), ElementsAre("trainer --epochs=3"));
}

TEST_F(WorkerGroupTest, WorkersReadAnEmptyStdinAndInheritNoDescriptors) {
  // `cat` ends at once on /dev/null; the listing shows only stdin, stdout, stderr and the
  // directory ls itself opened.
  auto group = MustStart({ShellWorker(0, "cat; ls /proc/self/fd")});
  ASSERT_NE(group, nullptr);
  auto exit = group->WaitAny(std::chrono::seconds(5));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->Describe();
  EXPECT_THAT(group->LastLines(0, 10), ElementsAre("0", "1", "2", "3"));
}

}  // namespace
}  // namespace trainctl::agent
