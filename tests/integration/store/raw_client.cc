#include "raw_client.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <vector>

namespace store_test {

int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

Socket::~Socket() { Close(); }

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void Socket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string ReadUntilClosed(int fd) {
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) out.append(buffer, n);
  return out;
}

std::string ReadResponse(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    const std::size_t end = out.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::size_t length = 0;
      const std::size_t at = out.find("Content-Length: ");
      if (at != std::string::npos && at < end) length = std::stoul(out.substr(at + 16));
      if (out.size() >= end + 4 + length) return out.substr(0, end + 4 + length);
    }
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return out;
    out.append(buffer, n);
  }
}

std::string Post(const std::string& op, const std::string& body, const std::string& token,
                 const std::string& extra_headers) {
  std::string request = "POST /v1/" + op + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  return request + extra_headers +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

Flood FloodServer(int port, const std::string& head, char filler, std::size_t limit,
                  bool stop_at_answer) {
  Flood flood;
  Socket socket(ConnectLoopback(port));
  if (socket.fd() < 0) return flood;
  const std::vector<char> chunk(64 << 10, filler);
  std::string_view pending = head;
  bool sending = true;
  for (;;) {
    pollfd p{socket.fd(), static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 10000) <= 0) break;  // 10 s of silence: the caller's checks fail
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[4096];
      const ssize_t n = ::recv(socket.fd(), buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) {
        flood.answer.append(buffer, n);
        if (stop_at_answer) sending = false;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) break;  // closed or reset
    }
    if (sending && (p.revents & POLLOUT)) {
      if (pending.empty()) {
        if (flood.sent >= limit) {
          sending = false;
          continue;
        }
        pending = std::string_view(chunk.data(), std::min(chunk.size(), limit - flood.sent));
      }
      const ssize_t n =
          ::send(socket.fd(), pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        pending.remove_prefix(static_cast<std::size_t>(n));
        flood.sent += static_cast<std::size_t>(n);
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        sending = false;  // the server cut the connection: read what it said
      }
    }
  }
  return flood;
}

int CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (::readdir(dir) != nullptr) ++count;
  ::closedir(dir);
  return count - 3;  // ".", ".." and the directory's own descriptor
}

}  // namespace store_test
