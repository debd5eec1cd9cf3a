#include "process_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace trainctl::agent::process_internal {

train::Result<UniqueFd> AboveStandardStreams(UniqueFd fd) {
  if (fd.get() > 2) return fd;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return train::InternalError(ErrnoMessage("fcntl(F_DUPFD_CLOEXEC)", errno));
  return UniqueFd(moved);
}

train::Result<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return train::ResourceExhaustedError(
        ErrnoMessage("cannot create a pipe for worker output", errno) +
        "; raise the open-file limit (ulimit -n)");
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  TRAIN_ASSIGN_OR_RETURN(read_end, AboveStandardStreams(std::move(read_end)));
  TRAIN_ASSIGN_OR_RETURN(write_end, AboveStandardStreams(std::move(write_end)));
  return Pipe{std::move(read_end), std::move(write_end)};
}

train::Status SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return train::InternalError(
        ErrnoMessage("fcntl(O_NONBLOCK) on fd " + std::to_string(fd), errno));
  }
  return train::Status::Ok();
}

int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace trainctl::agent::process_internal
