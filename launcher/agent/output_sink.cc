#include "output_sink.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

namespace trainctl::agent::process_internal {

train::Result<UniqueFd> OpenLogFile(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) {
      return train::PermissionDeniedError("cannot create the log directory \"" + parent.string() +
                                          "\": " + error.message() +
                                          "; make it writable or choose another log directory");
    }
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return train::PermissionDeniedError(
        ErrnoMessage("cannot open the log file \"" + path + "\"", errno) +
        "; make it writable or choose another log directory");
  }
  return AboveStandardStreams(UniqueFd(fd));
}

OutputSink::OutputSink(Terminal* terminal, std::string prefix, UniqueFd log, std::string log_path)
    : terminal_(terminal),
      prefix_(std::move(prefix)),
      log_(std::move(log)),
      log_path_(std::move(log_path)) {}

void OutputSink::Append(std::string_view bytes) {
  while (!bytes.empty()) {
    std::size_t newline = bytes.find('\n');
    std::size_t take = std::min(newline == std::string_view::npos ? bytes.size() : newline,
                                kMaxLineBytes - partial_.size());
    std::string_view piece = bytes.substr(0, take);
    bytes.remove_prefix(take);
    bool ends_line = !bytes.empty() && bytes.front() == '\n';
    if (ends_line) bytes.remove_prefix(1);
    if (!ends_line && partial_.size() + piece.size() < kMaxLineBytes) {
      partial_ += piece;  // the rest of this line is still to come
      continue;
    }
    if (partial_.empty()) {
      EmitLine(piece);  // the common case: a whole line within one read, no copy
    } else {
      partial_ += piece;
      EmitLine(partial_);
      partial_.clear();
    }
  }
}

void OutputSink::Finish() {
  if (partial_.empty()) return;
  EmitLine(partial_);
  partial_.clear();
}

std::vector<std::string> OutputSink::LastLines(std::size_t count) const {
  std::lock_guard<std::mutex> lock(tail_mutex_);
  std::size_t n = std::min(count, tail_.size());
  return std::vector<std::string>(tail_.end() - static_cast<std::ptrdiff_t>(n), tail_.end());
}

void OutputSink::EmitLine(std::string_view line) {
  std::string prefixed;
  prefixed.reserve(prefix_.size() + line.size());
  prefixed += prefix_;
  prefixed += line;
  terminal_->WriteLine(prefixed);

  if (log_.valid()) {
    std::string raw(line);
    raw += '\n';
    if (int err = WriteAll(log_.get(), raw); err != 0) {
      // A full disk must not stop the job: say so once and keep the terminal going.
      log_.reset();
      terminal_->WriteLine(prefix_ +
                           ErrnoMessage("trainctl: cannot write \"" + log_path_ + "\"", err) +
                           "; this worker's further output goes to the terminal only");
    }
  }

  std::lock_guard<std::mutex> lock(tail_mutex_);
  tail_.emplace_back(line);
  if (tail_.size() > kTailLines) tail_.pop_front();
}

}  // namespace trainctl::agent::process_internal
