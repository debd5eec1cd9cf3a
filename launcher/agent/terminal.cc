#include "terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include "process_fd.h"

namespace trainctl::agent {
namespace {

// Carriage return, then "erase to end of line": removes the status line in place.
constexpr std::string_view kEraseLine = "\r\x1b[K";

// The terminal's width in columns, or 0 when it cannot be told.
std::size_t Columns(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

// A status wider than the terminal wraps, and the erase sequence then clears only its last
// row; so it is cut to fit (at a UTF-8 character boundary).
void FitToWidth(std::string& status, std::size_t columns) {
  if (columns == 0 || status.size() < columns) return;
  std::size_t cut = columns - 1;
  while (cut > 0 && (static_cast<unsigned char>(status[cut]) & 0xC0) == 0x80) --cut;
  status.resize(cut);
}

}  // namespace

Terminal::Terminal(std::FILE* out) : Terminal(out, ::isatty(::fileno(out)) == 1) {}

Terminal::Terminal(std::FILE* out, bool is_tty) : out_(out), is_tty_(is_tty) {}

Terminal::~Terminal() { SetStatus(""); }

void Terminal::Emit(std::string_view bytes) {
  int fd = ::fileno(out_);
  // Whatever others left in the stdio buffer goes first, so that lines keep their order.
  if (std::fflush(out_) != 0 || fd < 0) return;
  // Nothing useful can be done when the terminal itself is gone (closed pipe, full disk).
  (void)process_internal::WriteAll(fd, bytes);
}

void Terminal::WriteLine(std::string_view line) {
  std::string bytes;
  std::lock_guard<std::mutex> lock(mutex_);
  bool redraw = is_tty_ && !status_.empty();
  bytes.reserve(line.size() + 1 + (redraw ? kEraseLine.size() + status_.size() : 0));
  if (redraw) bytes += kEraseLine;
  bytes += line;
  bytes += '\n';
  if (redraw) bytes += status_;
  // One write(2) for the whole line: writes up to PIPE_BUF bytes to a pipe are atomic.
  Emit(bytes);
}

void Terminal::SetStatus(std::string status) {
  if (!is_tty_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  FitToWidth(status, Columns(::fileno(out_)));
  if (status == status_) return;
  std::string bytes(kEraseLine);
  bytes += status;
  status_ = std::move(status);
  Emit(bytes);
}

}  // namespace trainctl::agent
