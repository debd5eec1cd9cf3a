// What the worker group tests share: a terminal captured in a file, worker specs, and polling
// for what real processes do.
#ifndef TRAINCTL_TESTS_UNIT_AGENT_AGENT_TEST_UTIL_H_
#define TRAINCTL_TESTS_UNIT_AGENT_AGENT_TEST_UTIL_H_

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../../scratch_dir.h"
#include "terminal.h"
#include "worker_group.h"

namespace trainctl::agent::testing {

using namespace std::chrono_literals;

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A Terminal (not a TTY) whose output lands in a file the test can read.
class CapturedTerminal {
 public:
  explicit CapturedTerminal(const ::train::testing::ScratchDir& dir, bool is_tty = false)
      : path_(dir.path() / "terminal.out"),
        file_(std::fopen(path_.c_str(), "w")),
        terminal_(std::make_unique<Terminal>(file_, is_tty)) {}
  ~CapturedTerminal() {
    terminal_.reset();
    std::fclose(file_);
  }
  Terminal* get() { return terminal_.get(); }
  std::string Contents() const { return ReadFile(path_); }
  std::vector<std::string> Lines() const { return SplitLines(Contents()); }

 private:
  std::filesystem::path path_;
  std::FILE* file_;
  std::unique_ptr<Terminal> terminal_;
};

// A worker running `argv` in a minimal environment, its lines prefixed "[rank N] ".
inline WorkerSpec Worker(int rank, std::vector<std::string> argv,
                         std::map<std::string, std::string> env = {{"PATH", "/usr/bin:/bin"}}) {
  WorkerSpec spec;
  spec.rank = rank;
  spec.argv = std::move(argv);
  spec.env = std::move(env);
  spec.prefix = "[rank " + std::to_string(rank) + "] ";
  return spec;
}

// A worker running `script` with /bin/sh.
inline WorkerSpec ShellWorker(int rank, const std::string& script) {
  return Worker(rank, {"/bin/sh", "-c", script});
}

// True once `condition` holds, false if it did not within `timeout`.
inline bool WaitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Whether `pid` is a live process (a zombie is dead: it only waits to be reaped).
inline bool IsAlive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close_paren = stat.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < stat.size() &&
         stat[close_paren + 2] != 'Z';
}

// Waits until rank `rank` has printed `line` (its last line so far).
inline bool WaitForLine(const WorkerGroup& group, int rank, const std::string& line) {
  return WaitUntil([&] {
    std::vector<std::string> last = group.LastLines(rank, 1);
    return !last.empty() && last.back() == line;
  });
}

}  // namespace trainctl::agent::testing

#endif  // TRAINCTL_TESTS_UNIT_AGENT_AGENT_TEST_UTIL_H_
