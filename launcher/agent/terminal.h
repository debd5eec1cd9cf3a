// Where trainctl's output goes: lines from many threads, and on a TTY a live status line that
// stays at the bottom (redrawn after each line, erased at the end).
#ifndef TRAINCTL_AGENT_TERMINAL_H_
#define TRAINCTL_AGENT_TERMINAL_H_

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace trainctl::agent {

class Terminal {
 public:
  // Writes to `out` (stdout by default). `is_tty` decides whether a status line is drawn;
  // by default it is isatty(fileno(out)).
  explicit Terminal(std::FILE* out = stdout);
  Terminal(std::FILE* out, bool is_tty);
  // Erases the status line, so the shell prompt that follows starts on a clean line.
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Writes one line (a '\n' is added), atomically with respect to other threads and, for lines
  // under PIPE_BUF bytes, to other processes writing to the same pipe.
  void WriteLine(std::string_view line);

  // Replaces the status line (TTY only; ignored otherwise). "" removes it. A status wider than
  // the terminal is cut to fit, since a wrapped one could not be erased.
  void SetStatus(std::string status);

  bool is_tty() const { return is_tty_; }

 private:
  // Writes `bytes` with one write(2) (more only when the kernel takes part of it).
  void Emit(std::string_view bytes);

  std::FILE* out_;
  bool is_tty_;
  std::mutex mutex_;
  std::string status_;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_TERMINAL_H_
