// Signalling and stopping workers, and workers never outliving their launcher.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent_test_util.h"
#include "worker_group.h"

extern char** environ;

namespace trainctl::agent {
namespace {

using testing::CapturedTerminal;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::IsAlive;
using ::testing::IsEmpty;
using testing::ShellWorker;
using testing::WaitForLine;
using testing::WaitUntil;
using ::train::testing::ScratchDir;

class WorkerGroupStopTest : public ::testing::Test {
 protected:
  std::unique_ptr<WorkerGroup> MustStart(std::vector<WorkerSpec> specs) {
    auto group = WorkerGroup::Start(std::move(specs), terminal_.get());
    EXPECT_TRUE(group.ok()) << group.status();
    return group.ok() ? std::move(group).value() : nullptr;
  }

  ScratchDir dir_;
  CapturedTerminal terminal_{dir_};
};

WorkerSpec SleepWorker(int rank) { return testing::Worker(rank, {"sleep", "100"}); }

TEST_F(WorkerGroupStopTest, SignalReachesEveryWorker) {
  auto group = MustStart({SleepWorker(0), SleepWorker(1), SleepWorker(2)});
  ASSERT_NE(group, nullptr);
  group->Signal(SIGUSR1);
  std::vector<int> signals;
  while (auto exit = group->WaitAny(std::chrono::seconds(5))) signals.push_back(exit->signal);
  EXPECT_THAT(signals, ElementsAre(SIGUSR1, SIGUSR1, SIGUSR1));
}

TEST_F(WorkerGroupStopTest, StopLetsWorkersHandleSigterm) {
  auto group = MustStart({ShellWorker(0,
                                      "trap 'echo saving; exit 0' TERM; echo ready; "
                                      "while :; do sleep 0.05; done")});
  ASSERT_NE(group, nullptr);
  ASSERT_TRUE(WaitForLine(*group, 0, "ready"));
  auto start = std::chrono::steady_clock::now();
  std::vector<WorkerExit> exits = group->Stop(std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_TRUE(exits[0].success()) << exits[0].Describe();
  EXPECT_THAT(group->LastLines(0, 1), ElementsAre("saving"));
  EXPECT_EQ(group->running(), 0);
}

TEST_F(WorkerGroupStopTest, StopEscalatesToSigkillAfterTheGrace) {
  auto group = MustStart(
      {ShellWorker(0, "trap '' TERM; echo ready; while :; do sleep 0.05; done"), SleepWorker(1)});
  ASSERT_NE(group, nullptr);
  ASSERT_TRUE(WaitForLine(*group, 0, "ready"));
  constexpr auto kGrace = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  std::vector<WorkerExit> exits = group->Stop(kGrace);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, kGrace);
  EXPECT_LT(took, kGrace + std::chrono::milliseconds(700));
  std::map<int, int> signal_of;
  for (const WorkerExit& exit : exits) signal_of[exit.rank] = exit.signal;
  EXPECT_EQ(signal_of, (std::map<int, int>{{0, SIGKILL}, {1, SIGTERM}}));
}

// The kernel refuses the SIGTERM (EPERM: a worker that became another user): the refusal is
// named, and the grace still ends in SIGKILL, which the environment lets through.
class RefusesSigterm : public train::internal::OsEnv {
 public:
  int Kill(pid_t pid, int signal) override {
    if (signal != SIGTERM) return OsEnv::Kill(pid, signal);
    ++refused;
    errno = EPERM;
    return -1;
  }
  std::atomic<int> refused{0};
};

TEST_F(WorkerGroupStopTest, ARefusedSigtermIsNamedAndTheGraceStillEndsInSigkill) {
  RefusesSigterm env;
  auto group = WorkerGroup::Start({SleepWorker(0), SleepWorker(1)}, terminal_.get(), &env);
  ASSERT_TRUE(group.ok()) << group.status();
  ::testing::internal::CaptureStderr();
  std::vector<WorkerExit> exits = (*group)->Stop(std::chrono::milliseconds(200));
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(env.refused.load(), 2);
  EXPECT_THAT(log, HasSubstr("sending signal 15 to rank 0"));
  EXPECT_THAT(log, HasSubstr("Operation not permitted"));
  ASSERT_EQ(exits.size(), 2u);
  for (const WorkerExit& exit : exits) EXPECT_EQ(exit.signal, SIGKILL) << exit.Describe();
  EXPECT_EQ((*group)->running(), 0);
}

TEST_F(WorkerGroupStopTest, StopReturnsOnlyExitsNotReportedYet) {
  auto group = MustStart({ShellWorker(0, "exit 2"), SleepWorker(1)});
  ASSERT_NE(group, nullptr);
  auto first = group->WaitAny(std::chrono::seconds(5));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->rank, 0);
  std::vector<WorkerExit> exits = group->Stop(std::chrono::seconds(1));
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].rank, 1);
  EXPECT_THAT(group->Stop(std::chrono::seconds(1)), IsEmpty());  // stopping twice is harmless
}

TEST_F(WorkerGroupStopTest, StopKillsWhatAWorkerStarted) {
  auto group = MustStart({ShellWorker(0, "sleep 100 & echo $!; wait")});
  ASSERT_NE(group, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return !group->LastLines(0, 1).empty(); }));
  pid_t grandchild = std::stoi(group->LastLines(0, 1).front());
  ASSERT_TRUE(IsAlive(grandchild));
  group->Stop(std::chrono::seconds(1));
  EXPECT_TRUE(WaitUntil([&] { return !IsAlive(grandchild); }, std::chrono::seconds(2)));
}

TEST_F(WorkerGroupStopTest, AWorkerThatExitsTakesWhatItStartedWithIt) {
  auto group = MustStart({ShellWorker(0, "sleep 100 & echo $!")});
  ASSERT_NE(group, nullptr);
  auto exit = group->WaitAny(std::chrono::seconds(5));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success());
  pid_t grandchild = std::stoi(group->LastLines(0, 1).front());
  EXPECT_TRUE(WaitUntil([&] { return !IsAlive(grandchild); }, std::chrono::seconds(2)));
}

TEST_F(WorkerGroupStopTest, DestroyingTheGroupStopsItsWorkers) {
  auto group = MustStart({SleepWorker(0), SleepWorker(1)});
  ASSERT_NE(group, nullptr);
  std::vector<pid_t> pids = group->pids();
  group.reset();
  for (pid_t pid : pids) EXPECT_FALSE(IsAlive(pid)) << pid;
}

TEST_F(WorkerGroupStopTest, WorkersOutliveTheThreadThatStartedThem) {
  // PR_SET_PDEATHSIG fires when the forking thread ends; the group forks from its own thread.
  std::unique_ptr<WorkerGroup> group;
  std::thread([&] { group = MustStart({SleepWorker(0)}); }).join();
  ASSERT_NE(group, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(IsAlive(group->pids()[0]));
  EXPECT_EQ(group->running(), 1);
}

// Reads one line from `fd`, waiting up to 5 s.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  pollfd pfd{fd, POLLIN, 0};
  while (::poll(&pfd, 1, 5000) == 1 && ::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

TEST_F(WorkerGroupStopTest, WorkersDieWhenTheLauncherIsKilled) {
  // The holder starts a group of three `sleep 100` workers, prints their pids and waits.
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  ASSERT_EQ(posix_spawn_file_actions_init(&actions), 0);
  ASSERT_EQ(posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO), 0);
  char* argv[] = {const_cast<char*>(AGENT_GROUP_HOLDER), const_cast<char*>("3"), nullptr};
  pid_t holder = -1;
  ASSERT_EQ(::posix_spawn(&holder, AGENT_GROUP_HOLDER, &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::stringstream line(ReadLine(out[0]));
  ::close(out[0]);
  std::vector<pid_t> workers;
  for (pid_t pid; line >> pid;) workers.push_back(pid);
  ASSERT_EQ(workers.size(), 3u) << "the holder printed: " << line.str();
  for (pid_t pid : workers) ASSERT_TRUE(IsAlive(pid));

  ASSERT_EQ(::kill(holder, SIGKILL), 0);  // no chance to clean up
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);
  for (pid_t pid : workers) {
    EXPECT_TRUE(WaitUntil([&] { return !IsAlive(pid); }, std::chrono::seconds(2)))
        << "worker " << pid << " outlived its launcher";
  }
}

}  // namespace
}  // namespace trainctl::agent
