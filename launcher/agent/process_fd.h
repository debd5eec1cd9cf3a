// File descriptors owned by the worker group: closed exactly once, never leaked to a child.
#ifndef TRAINCTL_AGENT_PROCESS_FD_H_
#define TRAINCTL_AGENT_PROCESS_FD_H_

#include <string>
#include <string_view>
#include <utility>

#include "train/status.h"

namespace trainctl::agent::process_internal {

// Owns one file descriptor; -1 when empty.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A pipe whose ends are close-on-exec and numbered above 2, so that dup2() onto stdin, stdout
// or stderr in a child never clobbers the other end.
struct Pipe {
  UniqueFd read;
  UniqueFd write;
};
train::Result<Pipe> MakePipe();

// Moves `fd` above 2 (keeping close-on-exec) when it landed on a standard stream's number,
// which happens when the process was started with one of them closed.
train::Result<UniqueFd> AboveStandardStreams(UniqueFd fd);

train::Status SetNonBlocking(int fd);

// Writes all of `data`, retrying short writes and EINTR. Returns the errno of a failure, 0 on
// success.
int WriteAll(int fd, std::string_view data);

// "what: strerror(err)".
std::string ErrnoMessage(std::string_view what, int err);

}  // namespace trainctl::agent::process_internal

#endif  // TRAINCTL_AGENT_PROCESS_FD_H_
