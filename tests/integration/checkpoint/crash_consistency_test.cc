// Crash consistency: a process saving checkpoints is SIGKILLed at random instants, again and
// again; after every kill the newest committed checkpoint must verify and load to exactly the
// data of its step, and the next process resumes from it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../../scratch_dir.h"
#include "step_data.h"
#include "train/checkpoint.h"

namespace checkpoint_test {
namespace {

namespace fs = std::filesystem;
using ::train::testing::ScratchDir;
using namespace std::chrono_literals;

constexpr int kKillsPerMode = 60;

// The child, its stdout read line by line.
class Child {
 public:
  Child(const std::string& dir, const std::string& mode, const std::string& stderr_file) {
    int fds[2];
    if (pipe(fds) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      const int err = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(err, STDERR_FILENO);
      close(fds[0]);
      execl(CRASH_CHILD_BINARY, CRASH_CHILD_BINARY, dir.c_str(), mode.c_str(), nullptr);
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
  }

  // The next line, or "" at end of output or after `timeout`.
  std::string ReadLine(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const ssize_t n = read(out_, chunk, sizeof(chunk));
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // SIGKILLs it; returns the wait status.
  int Kill() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string buffer_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Temporary directories of saves that never committed.
int LeftoverTemporaries(const fs::path& dir) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(".step-", 0) == 0) ++count;
  }
  return count;
}

void KillAtRandomInstants(const std::string& mode) {
  ScratchDir scratch;
  const fs::path dir = scratch.path() / "ckpt";
  const std::string child_log = (scratch.path() / "child.log").string();
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", mode " + mode);
  std::mt19937 random(seed);
  std::vector<double> save_ms;  // how long Save took in the children so far
  std::int64_t newest = 0;      // newest committed step after the previous kill
  int killed_mid_save = 0;
  for (int kill_index = 0; kill_index < kKillsPerMode; ++kill_index) {
    SCOPED_TRACE("kill " + std::to_string(kill_index));
    Child child(dir.string(), mode, child_log);
    const std::string ready = child.ReadLine(120s);
    ASSERT_EQ(ready.rfind("ready ", 0), 0u) << ready << "\n" << ReadFile(child_log);
    ASSERT_EQ(std::stoll(ready.substr(6)), newest + 1) << "resumes after the newest checkpoint";
    // Uniform over about three saves, so that kills land in every phase of one.
    double window_ms = 50;
    if (!save_ms.empty()) {
      std::vector<double> sorted = save_ms;
      std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
      // An async Save returns in a few milliseconds but commits later (its write runs in the
      // background), so its window must also cover a whole write.
      window_ms = std::max(mode == "async" ? 50.0 : 5.0, 3 * sorted[sorted.size() / 2]);
    }
    // Until one has committed, a window that doubles with each kill: on a busy machine a
    // first write may take longer than the window.
    if (newest == 0) window_ms = std::max(window_ms, 50.0 * (1 << std::min(kill_index, 5)));
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<std::int64_t>(
        std::uniform_real_distribution<double>(0, window_ms)(random) * 1000)));
    const int status = child.Kill();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended by itself: " << status << "\n"
        << ReadFile(child_log);
    std::int64_t returned = 0;  // the newest step whose Save returned
    for (std::string line = child.ReadLine(1s); !line.empty(); line = child.ReadLine(1s)) {
      std::istringstream in(line);
      std::string word;
      std::int64_t step = 0, micros = 0;
      in >> word >> step >> micros;
      if (word == "saved") {
        returned = step;
        save_ms.push_back(static_cast<double>(micros) / 1000.0);
      }
    }
    if (fs::exists(dir) && LeftoverTemporaries(dir) > 0) ++killed_mid_save;

    auto list = train::ListCheckpoints(dir.string());
    if (!list.ok()) {
      ASSERT_EQ(newest, 0) << list.status();  // nothing committed yet
      continue;
    }
    if (list->empty()) {
      ASSERT_EQ(newest, 0) << "committed checkpoints disappeared";
      continue;
    }
    for (const auto& info : *list) {
      EXPECT_TRUE(train::VerifyCheckpoint(info.path).ok())
          << info.path << ": " << train::VerifyCheckpoint(info.path);
    }
    const std::int64_t committed = list->front().step;
    ASSERT_GE(committed, newest) << "the newest checkpoint went back";
    // Sync: a Save that returned has committed. Async: the one before it has.
    ASSERT_GE(committed, mode == "sync" ? returned : returned - 1);
    newest = committed;

    train::CheckpointOptions options;
    options.async = false;
    auto reader = train::Checkpointer::Open(dir.string(), nullptr, options);
    ASSERT_TRUE(reader.ok()) << reader.status();
    StepBuffers buffers;
    train::CheckpointState into;
    into.tensors = buffers.Tensors();
    auto loaded = (*reader)->LoadLatest(into);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_EQ(Mismatch(newest, buffers, *loaded), "") << loaded->path;
  }
  std::printf(
      "%s: %d kills, %d during a save (temporary directory left), newest step %lld, "
      "median save %.1f ms\n",
      mode.c_str(), kKillsPerMode, killed_mid_save, static_cast<long long>(newest),
      save_ms.empty() ? 0.0 : save_ms[save_ms.size() / 2]);
  EXPECT_GT(newest, 0) << "no checkpoint ever committed";
  EXPECT_GT(killed_mid_save, 0) << "no kill landed inside a save";
}

TEST(CrashConsistency, SyncSavesKilledAtRandomInstantsLeaveTheNewestCommittedOneWhole) {
  KillAtRandomInstants("sync");
}

TEST(CrashConsistency, AsyncSavesKilledAtRandomInstantsLeaveTheNewestCommittedOneWhole) {
  KillAtRandomInstants("async");
}

}  // namespace
}  // namespace checkpoint_test
