// The job watchdog: nothing a worker starts outlives its launcher (killed, or ending normally)
// or its worker group, whatever session it moves to. Real processes: the launcher is
// watchdog_holder, or this test process; each test's processes carry a marker token.
#include "job_watchdog.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent_test_util.h"
#include "process_marker.h"
#include "worker_group.h"

extern char** environ;

namespace trainctl::agent {
namespace {

using testing::CapturedTerminal;
using ::testing::HasSubstr;
using testing::IsAlive;
using ::testing::IsEmpty;
using testing::KillMarked;
using testing::MarkedProcesses;
using testing::WaitForMarked;
using testing::WaitMarkedGone;
using testing::WaitUntil;
using ::train::testing::ScratchDir;

// How long the test lets the watchdog take; it usually needs a few milliseconds.
constexpr std::chrono::seconds kGoneDeadline{3};

// Per worker: a background child, a foreground one (the worker itself, by exec), one that left
// the session (setsid) and a daemon that double-forked out of it (orphaned, its own session).
std::string EscapingScript(const std::string& token) {
  return "sleep 301." + token + " & setsid sleep 303." + token + " & (setsid sh -c 'sleep 304." +
         token + " & exit 0' &); exec sleep 302." + token;
}
// `sleep 301 & sleep 302`: what stays in the worker's session.
std::string SessionScript(const std::string& token) {
  return "sleep 301." + token + " & exec sleep 302." + token;
}

// Reads one line from `fd`, waiting up to 10 s.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  pollfd pfd{fd, POLLIN, 0};
  while (::poll(&pfd, 1, 10000) == 1 && ::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

// watchdog_holder in the background, its first output line read.
struct Holder {
  pid_t pid = -1;
  pid_t watchdog = -1;
  std::string tracking;  // the cgroup, or "session"
  std::string line;

  explicit Holder(const std::vector<std::string>& args) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::vector<std::string> argv = {AGENT_WATCHDOG_HOLDER};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    if (::posix_spawn(&pid, AGENT_WATCHDOG_HOLDER, &actions, nullptr, raw.data(), environ) != 0) {
      pid = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    line = ReadLine(out[0]);
    ::close(out[0]);
    std::istringstream in(line);
    std::string ready;
    in >> ready >> watchdog >> tracking;
  }
  ~Holder() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      Wait();
    }
  }
  int Wait() {
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, 0) == pid) pid = -1;
    return status;
  }
};

class WatchdogTest : public ::testing::TestWithParam<const char*> {
 protected:
  void TearDown() override { KillMarked(token_); }
  bool cgroup_mode() const { return std::string(GetParam()) == "cgroup"; }
  // In cgroup mode, a machine without a writable cgroup v2 hierarchy falls back to sessions:
  // the test is skipped there (its session twin still runs).
  bool NoCgroupHere(const std::string& tracking) const {
    return cgroup_mode() && tracking == "session";
  }

  std::string token_ = testing::NewMarkerToken();
};

TEST_P(WatchdogTest, KillsEverythingTheJobStartedWhenTheLauncherIsKilled) {
  // Without a cgroup, a process that left its worker's session is found only once the watchdog
  // noted it (it looks five times a second): that case is covered at group stop (below) and at
  // a normal end instead.
  const std::string script = cgroup_mode() ? EscapingScript(token_) : SessionScript(token_);
  const std::size_t per_worker = cgroup_mode() ? 4 : 2;
  Holder holder({GetParam(), "2", script});
  ASSERT_GT(holder.watchdog, 0) << "the holder printed: " << holder.line;
  if (NoCgroupHere(holder.tracking)) GTEST_SKIP() << "no writable cgroup v2 here";
  ASSERT_TRUE(WaitForMarked(token_, 2 * per_worker)) << MarkedProcesses(token_).size();

  ASSERT_EQ(::kill(holder.pid, SIGKILL), 0);  // no chance to clean up
  holder.Wait();
  EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty()) << "outlived their launcher";
  // The watchdog does not linger either, and takes the job's cgroup with it.
  EXPECT_TRUE(WaitUntil([&] { return !IsAlive(holder.watchdog); }, kGoneDeadline));
  if (cgroup_mode()) {
    EXPECT_FALSE(std::filesystem::exists(holder.tracking)) << holder.tracking;
  }
}

TEST_P(WatchdogTest, NothingOutlivesWorkersThatExitNormally) {
  // The worker exits while what it started still runs; then the launcher ends normally.
  const std::string script = "setsid sleep 303." + token_ + " & (setsid sh -c 'sleep 304." +
                             token_ + " & exit 0' &); sleep 301." + token_ +
                             " & while [ $(pgrep -c -f '\\." + token_ +
                             "$') -lt 3 ]; do sleep 0.01; done; exit 0";
  Holder holder({GetParam(), "1", script, "exit"});
  ASSERT_GT(holder.watchdog, 0) << "the holder printed: " << holder.line;
  if (NoCgroupHere(holder.tracking)) GTEST_SKIP() << "no writable cgroup v2 here";
  int status = holder.Wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty());
  EXPECT_FALSE(IsAlive(holder.watchdog));
  if (cgroup_mode()) {
    EXPECT_FALSE(std::filesystem::exists(holder.tracking)) << holder.tracking;
  }
}

// Zombie children of this process (adopted orphans nobody reaped).
std::vector<pid_t> ZombieChildren() {
  std::vector<pid_t> zombies;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string stat = testing::ReadFile(entry.path() / "stat");
    std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (state == 'Z' && ppid == ::getpid()) zombies.push_back(std::stoi(entry.path().filename()));
  }
  return zombies;
}

TEST_P(WatchdogTest, AStoppedGroupLeavesNoOrphansAndARestartedOneNeither) {
  // This test process is the launcher: one thread here, so the watchdog may start.
  JobWatchdogOptions options;
  options.use_cgroup = cgroup_mode();
  auto watchdog = JobWatchdog::Start(options);
  ASSERT_TRUE(watchdog.ok()) << watchdog.status();
  if (NoCgroupHere((*watchdog)->cgroup_dir().empty() ? "session" : "cgroup")) {
    GTEST_SKIP() << "no writable cgroup v2 here";
  }
  ScratchDir dir;
  CapturedTerminal terminal(dir);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto group = WorkerGroup::Start({testing::ShellWorker(0, EscapingScript(token_)),
                                     testing::ShellWorker(1, EscapingScript(token_))},
                                    terminal.get());
    ASSERT_TRUE(group.ok()) << group.status();
    ASSERT_TRUE(WaitForMarked(token_, 8)) << MarkedProcesses(token_).size();
    (*group)->Stop(std::chrono::seconds(1));
    EXPECT_THAT(WaitMarkedGone(token_, kGoneDeadline), IsEmpty());
    // The orphans it killed were re-parented here (a subreaper) and are reaped.
    EXPECT_TRUE(WaitUntil([] { return ZombieChildren().empty(); }, kGoneDeadline));
  }
  if (!(*watchdog)->cgroup_dir().empty()) {
    for (const auto& entry : std::filesystem::directory_iterator((*watchdog)->cgroup_dir())) {
      EXPECT_FALSE(entry.is_directory()) << "a worker's cgroup was left: " << entry.path();
    }
  }
}

TEST_P(WatchdogTest, TheWatchdogHoldsNoDescriptorItDoesNotNeed) {
  // A listening socket opened without close-on-exec, as a library might.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  JobWatchdogOptions options;
  options.use_cgroup = cgroup_mode();
  auto watchdog = JobWatchdog::Start(options);
  ::close(listener);
  ASSERT_TRUE(watchdog.ok()) << watchdog.status();
  const std::string fd_dir = "/proc/" + std::to_string((*watchdog)->pid()) + "/fd";
  std::vector<std::string> targets;
  // Its descriptors are final once it reached its loop; poll until it closed the inherited ones.
  // (No exceptions: a descriptor may close while it is listed.)
  ASSERT_TRUE(WaitUntil([&] {
    targets.clear();
    std::error_code ec;
    for (std::filesystem::directory_iterator it(fd_dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::filesystem::path target = std::filesystem::read_symlink(it->path(), ec);
      if (ec) return false;
      targets.push_back(it->path().filename().string() + " -> " + target.string());
    }
    return !ec && targets.size() <= 4;
  })) << ::testing::PrintToString(targets);
  // stdin and stdout on /dev/null, stderr kept for its own errors, and the pipe.
  EXPECT_THAT(targets, ::testing::Contains("0 -> /dev/null"));
  EXPECT_THAT(targets, ::testing::Contains("1 -> /dev/null"));
  for (const std::string& t : targets) EXPECT_THAT(t, ::testing::Not(HasSubstr("socket:")));
}

TEST_P(WatchdogTest, RefusesToStartOnceThreadsRun) {
  std::atomic<bool> done{false};
  std::thread other([&] {
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  JobWatchdogOptions options;
  options.use_cgroup = cgroup_mode();
  auto watchdog = JobWatchdog::Start(options);
  done = true;
  other.join();
  ASSERT_FALSE(watchdog.ok());
  EXPECT_THAT(watchdog.status().message(), HasSubstr("before any thread"));
}

INSTANTIATE_TEST_SUITE_P(Tracking, WatchdogTest, ::testing::Values("cgroup", "session"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param);
                         });

}  // namespace
}  // namespace trainctl::agent
