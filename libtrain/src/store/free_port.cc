#include "store/free_port.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace train::internal {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<int> PickFreePort(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int error = getaddrinfo(host.c_str(), "0", &hints, &found);
  if (error != 0) {
    return InvalidArgumentError("cannot listen on host \"" + host + "\": " + gai_strerror(error) +
                                "; give an address of this machine (\"0.0.0.0\" for all)");
  }
  std::unique_ptr<addrinfo, AddrInfoDeleter> info(found);
  Socket socket(::socket(info->ai_family, info->ai_socktype | SOCK_CLOEXEC, info->ai_protocol));
  if (socket.fd() < 0) {
    return UnavailableError("cannot open a socket for \"" + host + "\": " + std::strerror(errno));
  }
  if (::bind(socket.fd(), info->ai_addr, info->ai_addrlen) != 0) {
    return InvalidArgumentError("cannot bind to host \"" + host + "\": " + std::strerror(errno) +
                                "; is it an address of this machine?");
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return UnavailableError("cannot read the port bound on \"" + host +
                            "\": " + std::strerror(errno));
  }
  if (bound.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
}

}  // namespace train::internal
