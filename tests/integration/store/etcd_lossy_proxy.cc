#include "etcd_lossy_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace etcd_test {
namespace {

constexpr int kPollMs = 100;

int ConnectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool Forward(int from, int to, std::string* seen) {
  char buffer[16384];
  const ssize_t n = recv(from, buffer, sizeof(buffer), 0);
  if (n <= 0) return false;
  if (seen != nullptr) seen->append(buffer, static_cast<std::size_t>(n));
  return to < 0 || send(to, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) == n;
}

}  // namespace

LossyProxy::LossyProxy(int upstream_port, std::string match, int drops,
                       std::function<void()> on_drop, std::chrono::milliseconds hold)
    : upstream_port_(upstream_port),
      match_(std::move(match)),
      drops_left_(drops),
      on_drop_(std::move(on_drop)),
      hold_(hold) {
  listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(listener_, 64);
  getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length);
  port_ = ntohs(addr.sin_port);
  std::lock_guard<std::mutex> lock(mu_);
  threads_.emplace_back([this] { Accept(); });
}

LossyProxy::~LossyProxy() {
  stop_ = true;
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) thread.join();
  close(listener_);
}

void LossyProxy::Accept() {
  while (!stop_) {
    pollfd ready{listener_, POLLIN, 0};
    if (poll(&ready, 1, kPollMs) <= 0) continue;
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) {
      close(client);
      return;
    }
    threads_.emplace_back([this, client] { Pump(client); });
  }
}

void LossyProxy::Pump(int client) {
  const int upstream = ConnectTo(upstream_port_);
  std::string request;  // client bytes since the last answer
  bool lose_answer = false;
  bool counted = false;  // the request since the last answer was matched
  while (upstream >= 0 && !stop_) {
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (poll(fds, 2, kPollMs) <= 0) continue;
    if (fds[0].revents != 0) {
      if (!Forward(client, upstream, &request)) break;
      if (!counted && request.find(match_) != std::string::npos) {
        counted = true;
        ++matched_;
        if (drops_left_-- > 0) lose_answer = true;
      }
    }
    if (fds[1].revents != 0) {
      if (counted && hold_.count() > 0) std::this_thread::sleep_for(hold_);
      // The member answered: either pass it on, or drop it and the client's connection.
      if (!Forward(upstream, lose_answer ? -1 : client, nullptr)) break;
      request.clear();
      counted = false;
      if (lose_answer) {
        if (on_drop_) on_drop_();
        ++dropped_;
        break;
      }
    }
  }
  if (upstream >= 0) close(upstream);
  close(client);
}

}  // namespace etcd_test
