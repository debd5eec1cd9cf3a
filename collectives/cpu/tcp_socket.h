// Sockets of the TCP transport: "host:port" addresses, listening (each descriptor owned by a
// UniqueFd), connecting with retries, and the short blocking exchanges of the handshake. Every
// wait polls in short ticks so that a deadline or an abort flag stops it promptly.
#ifndef TRAIN_COLLECTIVES_CPU_TCP_SOCKET_H_
#define TRAIN_COLLECTIVES_CPU_TCP_SOCKET_H_

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "train/communicator.h"
#include "train/internal/unique_fd.h"

namespace train::internal {

// The longest a wait sleeps before it looks at its deadline and abort flag again.
inline constexpr std::chrono::milliseconds kTcpPollTick{50};

struct TcpAddress {
  std::string host;
  int port = 0;

  // "10.0.0.2:4711", "[fe80::1]:4711".
  std::string ToString() const;
};

// Parses "host:port" and "[v6]:port".
Result<TcpAddress> ParseTcpAddress(std::string_view text);

// A nonblocking listening socket on `host`, on a port the kernel picks; `bound` receives the
// address to publish (numeric host, the port picked). A wildcard host is refused: other hosts
// could not reach it.
Result<UniqueFd> ListenTcp(const std::string& host, TcpAddress* bound);

// Connects to `address`, retrying with backoff while it refuses or cannot be reached (its
// owner may not listen yet) until `deadline`. The socket is nonblocking and configured.
Result<UniqueFd> ConnectTcp(const TcpAddress& address, Deadline deadline,
                            const std::atomic<bool>* aborted);

// Accepts one connection on `listener`, waiting until `deadline`.
Result<UniqueFd> AcceptTcp(int listener, Deadline deadline, const std::atomic<bool>* aborted);

// Nonblocking and TCP_NODELAY; buffers autotuned by the kernel (see the .cc).
Status ConfigureTcpSocket(int fd);

// Sends all of `line` (with its '\n') on a nonblocking socket before `deadline`.
Status SendLine(int fd, std::string_view line, Deadline deadline, const std::atomic<bool>* aborted);

// Reads one '\n'-terminated line (without it) of at most `max_bytes`, consuming nothing past
// it: the bytes that follow belong to whoever uses the socket next.
Result<std::string> ReadLine(int fd, std::size_t max_bytes, Deadline deadline,
                             const std::atomic<bool>* aborted);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_TCP_SOCKET_H_
