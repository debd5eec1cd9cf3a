#include "cpu/tcp_socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <thread>

namespace train::internal {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

Result<AddrInfoPtr> Resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int error = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (error != 0) {
    return InvalidArgumentError("cannot resolve host \"" + host + "\": " + gai_strerror(error));
  }
  return AddrInfoPtr(found);
}

bool Stopped(const std::atomic<bool>* aborted) {
  return aborted != nullptr && aborted->load(std::memory_order_relaxed);
}

// Waits until `fd` reports one of `events`. Returns OK when it did (or reported an error,
// which the caller's next call then reads), ABORTED or DEADLINE_EXCEEDED otherwise.
Status WaitForFd(int fd, short events, Deadline deadline, const std::atomic<bool>* aborted,
                 std::string_view what) {
  while (true) {
    if (Stopped(aborted)) return AbortedError(std::string(what) + " was aborted");
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return DeadlineExceededError(std::string(what) + " timed out");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const int timeout_ms = static_cast<int>(std::min(left, kTcpPollTick).count()) + 1;
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready > 0) return Status::Ok();
    if (ready < 0 && errno != EINTR) return InternalError(ErrnoMessage("poll", errno));
  }
}

bool Retryable(int err) {
  return err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH ||
         err == ECONNRESET || err == ECONNABORTED || err == EAGAIN;
}

// One nonblocking connect attempt: the connected socket, or the errno that stopped it (0 with
// an empty socket when the deadline or abort came first).
Result<UniqueFd> ConnectOnce(const addrinfo& target, Deadline deadline,
                             const std::atomic<bool>* aborted, int* err) {
  *err = 0;
  UniqueFd fd(::socket(target.ai_family, target.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       target.ai_protocol));
  if (!fd.valid()) return UnavailableError(ErrnoMessage("cannot open a socket", errno));
  if (::connect(fd.get(), target.ai_addr, target.ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) {
    *err = errno;
    return fd;
  }
  Status waited = WaitForFd(fd.get(), POLLOUT, deadline, aborted, "connecting");
  if (!waited.ok()) return waited;
  int socket_error = 0;
  socklen_t length = sizeof(socket_error);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0) {
    socket_error = errno;
  }
  *err = socket_error;
  return fd;
}

}  // namespace

std::string TcpAddress::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<TcpAddress> ParseTcpAddress(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgumentError("\"" + std::string(text) + "\" is not host:port");
  }
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string_view port_text = text.substr(colon + 1);
  int port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port <= 0 ||
      port > 65535) {
    return InvalidArgumentError("\"" + std::string(text) + "\" has no valid port");
  }
  return TcpAddress{std::string(host), port};
}

// Buffer sizes are left to the kernel: setting SO_SNDBUF/SO_RCVBUF turns off autotuning, which
// grows them to tcp_wmem/tcp_rmem (4 MiB/32 MiB by default on Linux), beyond the
// wmem_max/rmem_max cap an explicit size gets. Explicit 1 MiB and 4 MiB measured no faster.
Status ConfigureTcpSocket(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return InternalError(ErrnoMessage("fcntl(O_NONBLOCK)", errno));
  }
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return InternalError(ErrnoMessage("setsockopt(TCP_NODELAY)", errno));
  }
  return Status::Ok();
}

Result<UniqueFd> ListenTcp(const std::string& host, TcpAddress* bound) {
  TRAIN_ASSIGN_OR_RETURN(AddrInfoPtr info, Resolve(host, 0, /*passive=*/true));
  UniqueFd fd(::socket(info->ai_family, info->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       info->ai_protocol));
  if (!fd.valid()) return UnavailableError(ErrnoMessage("cannot open a socket", errno));
  if (::bind(fd.get(), info->ai_addr, info->ai_addrlen) != 0) {
    return InvalidArgumentError(ErrnoMessage("cannot listen on \"" + host + "\"", errno) +
                                "; give an address of this machine");
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) {
    return UnavailableError(ErrnoMessage("listen on \"" + host + "\"", errno));
  }
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return UnavailableError(ErrnoMessage("getsockname on \"" + host + "\"", errno));
  }
  // Publish the numeric address actually bound: a name may resolve differently elsewhere.
  char numeric[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, numeric, sizeof(numeric),
                    nullptr, 0, NI_NUMERICHOST) != 0) {
    return UnavailableError("cannot print the address bound for \"" + host + "\"");
  }
  const std::string bound_host = numeric;
  if (bound_host == "0.0.0.0" || bound_host == "::") {
    return InvalidArgumentError("cannot publish the wildcard \"" + host +
                                "\": give an address of this machine that other hosts reach");
  }
  bound->host = bound_host;
  bound->port = address.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port)
                    : ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  return fd;
}

Result<UniqueFd> ConnectTcp(const TcpAddress& address, Deadline deadline,
                            const std::atomic<bool>* aborted) {
  TRAIN_ASSIGN_OR_RETURN(AddrInfoPtr info, Resolve(address.host, address.port, false));
  std::chrono::milliseconds backoff{5};
  int last_error = 0;
  while (true) {
    int err = 0;
    TRAIN_ASSIGN_OR_RETURN(UniqueFd fd, ConnectOnce(*info, deadline, aborted, &err));
    if (err == 0) {
      TRAIN_RETURN_IF_ERROR(ConfigureTcpSocket(fd.get()));
      return fd;
    }
    if (!Retryable(err)) return UnavailableError(ErrnoMessage("connect", err));
    last_error = err;
    if (Stopped(aborted)) return AbortedError("connecting was aborted");
    const auto now = std::chrono::steady_clock::now();
    if (now + backoff >= deadline) {
      return DeadlineExceededError(ErrnoMessage("connect", last_error) +
                                   " (retried until the deadline)");
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
  }
}

Result<UniqueFd> AcceptTcp(int listener, Deadline deadline, const std::atomic<bool>* aborted) {
  while (true) {
    UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd.valid()) {
      TRAIN_RETURN_IF_ERROR(ConfigureTcpSocket(fd.get()));
      return fd;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) {
      TRAIN_RETURN_IF_ERROR(WaitForFd(listener, POLLIN, deadline, aborted, "accepting"));
      continue;
    }
    return UnavailableError(ErrnoMessage("accept", err));
  }
}

Status SendLine(int fd, std::string_view line, Deadline deadline,
                const std::atomic<bool>* aborted) {
  while (!line.empty()) {
    const ssize_t sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      line.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      TRAIN_RETURN_IF_ERROR(WaitForFd(fd, POLLOUT, deadline, aborted, "sending"));
      continue;
    }
    return UnavailableError(ErrnoMessage("send", errno));
  }
  return Status::Ok();
}

Result<std::string> ReadLine(int fd, std::size_t max_bytes, Deadline deadline,
                             const std::atomic<bool>* aborted) {
  std::string buffer(max_bytes, '\0');
  while (true) {
    // Peek, so that nothing after the line is taken from the socket.
    const ssize_t seen = ::recv(fd, buffer.data(), buffer.size(), MSG_PEEK | MSG_DONTWAIT);
    if (seen == 0) return UnavailableError("the connection was closed");
    if (seen < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return UnavailableError(ErrnoMessage("recv", errno));
      }
      TRAIN_RETURN_IF_ERROR(WaitForFd(fd, POLLIN, deadline, aborted, "reading"));
      continue;
    }
    const auto end = std::find(buffer.begin(), buffer.begin() + seen, '\n');
    if (end == buffer.begin() + seen) {
      if (static_cast<std::size_t>(seen) == max_bytes) {
        return InvalidArgumentError("a line longer than " + std::to_string(max_bytes) + " bytes");
      }
      // Part of the line is there; poll would report it again at once, so sleep instead.
      if (Stopped(aborted)) return AbortedError("reading was aborted");
      if (std::chrono::steady_clock::now() >= deadline) {
        return DeadlineExceededError("reading timed out");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const std::size_t length = static_cast<std::size_t>(end - buffer.begin()) + 1;
    const ssize_t taken = ::recv(fd, buffer.data(), length, MSG_DONTWAIT);
    if (taken != static_cast<ssize_t>(length)) {
      return UnavailableError(ErrnoMessage("recv", taken < 0 ? errno : EIO));
    }
    buffer.resize(length - 1);
    return buffer;
  }
}

}  // namespace train::internal
