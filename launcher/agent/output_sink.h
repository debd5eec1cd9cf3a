// One worker's output on its way out: split into lines, each written to the terminal with the
// worker's prefix and, unprefixed, to the worker's log file; the last lines are kept for a
// failure's root-cause summary.
#ifndef TRAINCTL_AGENT_OUTPUT_SINK_H_
#define TRAINCTL_AGENT_OUTPUT_SINK_H_

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "process_fd.h"
#include "terminal.h"
#include "train/status.h"

namespace trainctl::agent::process_internal {

// A line longer than this is broken into pieces of this size, so a worker that never prints a
// newline cannot make trainctl buffer without bound.
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;
// How many of a worker's last lines are kept.
inline constexpr std::size_t kTailLines = 50;

// Creates the parent directories of `path` and opens it for appending.
train::Result<UniqueFd> OpenLogFile(const std::string& path);

// Not thread-safe except LastLines: one thread feeds it.
class OutputSink {
 public:
  // `log` may be empty (no log file); `log_path` names it in warnings.
  OutputSink(Terminal* terminal, std::string prefix, UniqueFd log, std::string log_path);
  OutputSink(const OutputSink&) = delete;
  OutputSink& operator=(const OutputSink&) = delete;

  // Bytes as read from the worker; complete lines go out at once.
  void Append(std::string_view bytes);
  // The worker's output ended: a last line without a newline goes out too.
  void Finish();

  // The last `count` lines, oldest first (thread-safe).
  std::vector<std::string> LastLines(std::size_t count) const;

 private:
  void EmitLine(std::string_view line);

  Terminal* terminal_;
  std::string prefix_;
  UniqueFd log_;
  std::string log_path_;
  std::string partial_;  // bytes after the last newline
  mutable std::mutex tail_mutex_;
  std::deque<std::string> tail_;
};

}  // namespace trainctl::agent::process_internal

#endif  // TRAINCTL_AGENT_OUTPUT_SINK_H_
