// File descriptors owned by the worker group: closed exactly once, never leaked to a child.
#ifndef TRAINCTL_AGENT_PROCESS_FD_H_
#define TRAINCTL_AGENT_PROCESS_FD_H_

#include <string>
#include <string_view>
#include <utility>

#include "train/internal/unique_fd.h"
#include "train/status.h"

namespace trainctl::agent::process_internal {

// The descriptor owner and errno text are libtrain's (train/internal/unique_fd.h).
using train::internal::ErrnoMessage;
using train::internal::UniqueFd;

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

}  // namespace trainctl::agent::process_internal

#endif  // TRAINCTL_AGENT_PROCESS_FD_H_
