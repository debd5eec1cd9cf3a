// An owned file descriptor (sockets, pipes, pidfds, files): closed exactly once, when its owner
// lets go. Shared by the collectives' TCP transport and trainctl's process handling.
#ifndef TRAIN_INTERNAL_UNIQUE_FD_H_
#define TRAIN_INTERNAL_UNIQUE_FD_H_

#include <unistd.h>

#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace train::internal {

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
  void reset(int fd = -1) {
    // close() may report EINTR or EIO, but Linux releases the descriptor either way: retrying
    // could close a number another thread was just given.
    if (fd_ >= 0) (void)::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// "what: strerror(err)".
inline std::string ErrnoMessage(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  return message;
}

}  // namespace train::internal

#endif  // TRAIN_INTERNAL_UNIQUE_FD_H_
