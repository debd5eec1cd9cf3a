// Raw HTTP over loopback sockets, for sending a store server what its own client never would:
// no token, endless heads, huge or chunked bodies, slow or vanishing clients.
#ifndef TESTS_INTEGRATION_STORE_RAW_CLIENT_H_
#define TESTS_INTEGRATION_STORE_RAW_CLIENT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace store_test {

// A connected socket to 127.0.0.1:port with 10 s send and receive timeouts, or -1.
int ConnectLoopback(int port);

// Closes `fd` when it goes out of scope.
class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket();
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  void Close();

 private:
  int fd_;
};

bool SendAll(int fd, std::string_view data);
// Everything until the peer closes (or 10 s pass without a byte).
std::string ReadUntilClosed(int fd);
// One response: its head and the Content-Length bytes after it ("" when none came).
std::string ReadResponse(int fd);

// A request for POST /v1/<op> with `body`; with `token` its Authorization header.
std::string Post(const std::string& op, const std::string& body, const std::string& token = "",
                 const std::string& extra_headers = "");

struct Flood {
  std::size_t sent = 0;  // bytes the server let in before it answered or cut the connection
  std::string answer;    // what it answered
};
// Sends `head`, then `filler` bytes up to `limit` in all, while reading what comes back.
// Stops sending when the server answers (when `stop_at_answer`) or closes the connection, and
// returns once the server closed it (or after 10 s of silence).
Flood FloodServer(int port, const std::string& head, char filler, std::size_t limit,
                  bool stop_at_answer);

// Open file descriptors of this process (/proc/self/fd).
int CountOpenFds();

}  // namespace store_test

#endif  // TESTS_INTEGRATION_STORE_RAW_CLIENT_H_
