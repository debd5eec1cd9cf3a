#include "store/http_client_pool.h"

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
#include <optional>

namespace train::internal {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds on what a server may make this client hold: the status line and headers, and a body
// (a MultiGet of many large values is the largest answer the store sends).
constexpr std::size_t kMaxHeadBytes = 64 << 10;
constexpr std::size_t kMaxBodyBytes = std::size_t{1} << 30;
constexpr std::size_t kReadChunk = 64 << 10;
// Idle connections kept per pool; more are closed when given back.
constexpr std::size_t kMaxIdle = 64;

std::string ErrnoText(int error) { return std::strerror(error); }

// Waits until `fd` is ready for `events` or the deadline passes (false).
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60000)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return true;  // let the next call report the error
  }
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Head {
  int status = 0;
  std::optional<std::size_t> content_length;
  bool close = false;
};

// The status line and headers, up to (not including) the blank line.
Result<Head> ParseHead(std::string_view head) {
  Head out;
  const std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    return UnknownError("the answer does not start with an HTTP/1.x status line");
  }
  const std::string_view code = status_line.substr(9, 3);
  if (std::from_chars(code.data(), code.data() + 3, out.status).ec != std::errc() ||
      out.status < 100 || out.status > 599) {
    return UnknownError("the answer's status line has no status code");
  }
  out.close = status_line.starts_with("HTTP/1.0");
  std::size_t at = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (at < head.size()) {
    std::size_t end = head.find("\r\n", at);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(at, end - at);
    at = end + 2;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = Lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "content-length") {
      std::size_t length = 0;
      const auto [end_ptr, error] =
          std::from_chars(value.data(), value.data() + value.size(), length);
      if (error != std::errc() || end_ptr != value.data() + value.size()) {
        return UnknownError("the answer's Content-Length is not a number");
      }
      out.content_length = length;
    } else if (name == "connection") {
      out.close = Lower(value) == "close";
    } else if (name == "transfer-encoding") {
      return UnknownError("the answer is chunked, which the store never sends");
    }
  }
  return out;
}

}  // namespace

HttpClientPool::HttpClientPool(StoreAddress address) : address_(std::move(address)) {}

HttpClientPool::~HttpClientPool() {
  for (int fd : idle_) ::close(fd);
}

int HttpClientPool::TakeIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!idle_.empty()) {
    const int fd = idle_.back();
    idle_.pop_back();
    // Readable while idle: the server closed it (restarted, or its idle timeout) or sent
    // something unasked. Either way it is not for a new request.
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return fd;
    ::close(fd);
  }
  return -1;
}

void HttpClientPool::GiveBack(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < kMaxIdle) {
    idle_.push_back(fd);
  } else {
    ::close(fd);
  }
}

Result<int> HttpClientPool::Connect(Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address_.port);
  const int resolved = ::getaddrinfo(address_.host.c_str(), port.c_str(), &hints, &found);
  if (resolved != 0) {
    return UnavailableError("Failed to connect: the name " + address_.host + " does not resolve (" +
                            ::gai_strerror(resolved) + ")");
  }
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      why = ErrnoText(errno);
      continue;
    }
    int error = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        if (!WaitFor(fd, POLLOUT, deadline)) {
          ::close(fd);
          ::freeaddrinfo(found);
          return DeadlineExceededError("no connection within the deadline");
        }
        socklen_t size = sizeof(error);
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
      }
    }
    if (error == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ::freeaddrinfo(found);
      return fd;
    }
    why = ErrnoText(error);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return UnavailableError("Failed to connect to " + address_.ToString() + ": " + why);
}

Result<HttpAnswer> HttpClientPool::Post(std::string_view path, std::string_view headers,
                                        std::string_view body, Clock::time_point deadline,
                                        bool* unsent) {
  *unsent = false;
  int fd = TakeIdle();
  const bool reused = fd >= 0;
  if (!reused) {
    TRAIN_ASSIGN_OR_RETURN(fd, Connect(deadline));
  }
  // Closes the connection on every way out but a whole answer on a connection kept alive.
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{fd};

  std::string request =
      "POST " + std::string(path) + " HTTP/1.1\r\nHost: " + address_.ToString() + "\r\n" +
      std::string(headers) +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n";
  request.append(body);
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd, POLLOUT, deadline)) return DeadlineExceededError("the request was not sent");
      continue;
    }
    *unsent = reused;
    return UnavailableError("Failed to write the request: " + ErrnoText(errno));
  }

  std::string in;
  std::optional<Head> head;
  std::size_t body_at = 0;
  char chunk[kReadChunk];
  while (true) {
    if (head && head->content_length && in.size() - body_at >= *head->content_length) break;
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd, POLLIN, deadline)) return DeadlineExceededError("no whole answer");
      continue;
    }
    if (n == 0 && head && !head->content_length) break;  // the body ends with the connection
    if (n <= 0) {
      // A kept-alive connection the server had closed (it restarted) fails here, at the first
      // read: the server never saw the request, so it may be sent again on a new connection.
      *unsent = reused && in.empty();
      if (n < 0) return UnavailableError("Failed to read the answer: " + ErrnoText(errno));
      return UnavailableError(in.empty() ? "the connection closed before any answer"
                                         : "the connection closed in the middle of the answer");
    }
    in.append(chunk, static_cast<std::size_t>(n));
    if (!head) {
      const std::size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (in.size() > kMaxHeadBytes) return UnknownError("the answer's headers are too large");
        continue;
      }
      TRAIN_ASSIGN_OR_RETURN(head, ParseHead(std::string_view(in).substr(0, end)));
      body_at = end + 4;
      if (!head->content_length) head->close = true;
    }
    const std::size_t limit = head->content_length.value_or(kMaxBodyBytes);
    if (limit > kMaxBodyBytes || in.size() - body_at > limit) {
      return UnknownError("the answer's body is larger than " + std::to_string(limit) + " bytes");
    }
  }
  HttpAnswer answer;
  answer.status = head->status;
  answer.body = in.substr(body_at, head->content_length.value_or(in.size() - body_at));
  if (!head->close) {
    GiveBack(fd);
    closer.fd = -1;
  }
  return answer;
}

}  // namespace train::internal
