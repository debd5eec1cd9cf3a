// A TCP proxy on loopback in front of one etcd member that loses replies: a request whose bytes
// contain `match` is forwarded, the member's answer is read (so the member acted on it), and
// then the client's connection is closed without that answer. What a client sees when a
// member dies, or the network drops, between doing a request and answering it. It can also
// hold the answers to such requests for a while: what a client sees of a busy member.
#ifndef TESTS_INTEGRATION_STORE_ETCD_LOSSY_PROXY_H_
#define TESTS_INTEGRATION_STORE_ETCD_LOSSY_PROXY_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace etcd_test {

class LossyProxy {
 public:
  // Loses the replies of the first `drops` requests that contain `match` (0: loses none, and
  // only counts them). `on_drop` runs after the member answered a request whose answer is
  // lost, before the client notices: what others do while the client waits to send again.
  // `hold`: each answer to a request that contains `match` (its first bytes; a watch's later
  // events are not held) is passed on that long after the member sent it.
  LossyProxy(int upstream_port, std::string match, int drops,
             std::function<void()> on_drop = nullptr,
             std::chrono::milliseconds hold = std::chrono::milliseconds(0));
  ~LossyProxy();
  LossyProxy(const LossyProxy&) = delete;
  LossyProxy& operator=(const LossyProxy&) = delete;

  int port() const { return port_; }
  int dropped() const { return dropped_; }
  int matched() const { return matched_; }  // requests that contained `match`

 private:
  void Accept();
  void Pump(int client);

  const int upstream_port_;
  const std::string match_;
  std::atomic<int> drops_left_;
  std::atomic<int> dropped_{0};
  std::atomic<int> matched_{0};
  std::atomic<bool> stop_{false};
  const std::function<void()> on_drop_;
  const std::chrono::milliseconds hold_;
  int listener_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

}  // namespace etcd_test

#endif  // TESTS_INTEGRATION_STORE_ETCD_LOSSY_PROXY_H_
