// The processes bench_goodput starts (trainctl agents) and what they print: every line of every
// child is read live and timestamped on arrival, so that a fault's injection and the lines
// before and after it share one clock.
#ifndef BENCH_GOODPUT_PROC_H_
#define BENCH_GOODPUT_PROC_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "train/status.h"

namespace bench {

using GoodputClock = std::chrono::steady_clock;

// One line of a child's output (stdout and stderr together), as it arrived.
struct OutputLine {
  GoodputClock::time_point at;
  long long realtime_ns = 0;  // CLOCK_REALTIME at arrival, for logs
  std::string source;         // the child's name, e.g. "agent1"
  std::string text;
};

// Every line of every child of one run, in arrival order.
class OutputLog {
 public:
  void Add(OutputLine line);
  // Blocks until `match` holds for some line at index >= `from` (returns its index), or until
  // `limit` passes (nullopt).
  std::optional<std::size_t> WaitFor(const std::function<bool(const OutputLine&)>& match,
                                     std::chrono::milliseconds limit, std::size_t from = 0);
  std::vector<OutputLine> Snapshot() const;
  // The last `count` lines, one per row, each with its source: for error messages.
  std::string Tail(std::size_t count) const;

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<OutputLine> lines_;
};

// A child process with its output on a pipe read by a thread of its own into an OutputLog (and
// appended to `log_path`, each line after its arrival time). Its own process group; killed
// (SIGKILL) and reaped when destroyed.
class Child {
 public:
  Child(std::string name, std::vector<std::string> argv, std::string log_path, OutputLog* log);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  train::Status Start();
  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  void Signal(int signal) const;
  // The exit code (128+N for signal N) once it exited within `limit`, else nullopt.
  std::optional<int> Wait(std::chrono::milliseconds limit);

 private:
  void Read(int fd);

  std::string name_;
  std::vector<std::string> argv_;
  std::string log_path_;
  OutputLog* log_;
  pid_t pid_ = -1;
  std::optional<int> code_;
  std::atomic<bool> stop_{false};
  std::thread reader_;
};

// The first descendant of `ancestor` whose executable is `exe` (canonical path), or -1.
pid_t FindDescendant(pid_t ancestor, const std::string& exe);

// A TCP port on 127.0.0.1 that nothing listens on right now.
int FreeLoopbackPort();

}  // namespace bench

#endif  // BENCH_GOODPUT_PROC_H_
