// The store's client against a server that misbehaves: a head without end, a body larger
// than any answer, a connection closed before or during the answer, no answer at all, a
// kept-alive connection the server closed while idle. Each is a clear error (or a retry on a
// fresh connection), never a crash, a hang or an allocation the server chose.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "raw_client.h"
#include "train/store.h"

namespace {

using ::testing::HasSubstr;
using train::StatusCode;
using namespace std::chrono_literals;

constexpr char kToken[] = "hostile-test-token-0123456789abcdef";

// Accepts connections on loopback and hands each to `serve` (request bytes already read).
class FakeServer {
 public:
  explicit FakeServer(std::function<void(int fd, int index)> serve) : serve_(std::move(serve)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listener_, 16);
    socklen_t size = sizeof(addr);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &size);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (int index = 0;; ++index) {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0 || stopping_) {
          if (fd >= 0) ::close(fd);
          return;
        }
        char buffer[4096];
        (void)::recv(fd, buffer, sizeof(buffer), 0);  // the request (small, one read)
        serve_(fd, index);
      }
    });
  }
  ~FakeServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  std::unique_ptr<train::Store> Client(std::chrono::milliseconds request_timeout = 5s) {
    train::StoreClientOptions options;
    options.request_timeout = request_timeout;
    return train::ConnectStore({"127.0.0.1", port_}, kToken, options).value();
  }

 private:
  std::function<void(int, int)> serve_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

TEST(StoreClientHostile, AnEndlessHeadIsRefusedAfterItsCap) {
  FakeServer server([](int fd, int) {
    store_test::SendAll(fd, "HTTP/1.1 200 OK\r\nX: " + std::string(200 << 10, 'a'));
    std::this_thread::sleep_for(200ms);
    ::close(fd);
  });
  auto status = server.Client()->TryGet("k").status();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("headers are too large"));
}

TEST(StoreClientHostile, AnAbsurdContentLengthIsRefusedBeforeAnyAllocation) {
  FakeServer server([](int fd, int) {
    store_test::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n{}");
    std::this_thread::sleep_for(200ms);
    ::close(fd);
  });
  auto status = server.Client()->TryGet("k").status();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("larger than"));
}

TEST(StoreClientHostile, GarbageAndTruncatedAnswersAreErrorsThatNameTheStore) {
  FakeServer garbage([](int fd, int) {
    store_test::SendAll(fd, "SSH-2.0-OpenSSH\r\n\r\n");
    ::close(fd);
  });
  auto status = garbage.Client()->Set("k", "v");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("status line"));

  FakeServer truncated([](int fd, int) {
    store_test::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"va");
    ::close(fd);
  });
  status = truncated.Client()->Set("k", "v");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("in the middle of the answer"));
  EXPECT_THAT(status.message(), HasSubstr("cannot reach the store at 127.0.0.1:"));
}

TEST(StoreClientHostile, NoAnswerIsADeadlineWithinTheRequestTimeout) {
  FakeServer silent([](int fd, int) {
    std::this_thread::sleep_for(1500ms);
    ::close(fd);
  });
  const auto started = std::chrono::steady_clock::now();
  auto status = silent.Client(300ms)->TryGet("k").status();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("request_timeout"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1400ms);
}

TEST(StoreClientHostile, AConnectionTheServerDroppedWhileIdleIsReplaced) {
  // The first connection gets one answer and is then closed by the server; the client's next
  // request must go out on a new connection and succeed.
  FakeServer server([](int fd, int) {
    store_test::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"value\":null}");
    std::this_thread::sleep_for(50ms);
    ::close(fd);
  });
  auto client = server.Client();
  ASSERT_TRUE(client->TryGet("k").ok());
  std::this_thread::sleep_for(200ms);
  auto again = client->TryGet("k");
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(StoreClientHostile, NothingListeningIsRefusedAtOnceNamingTheAddress) {
  // Port 1 on loopback: nothing listens there, and nothing may without privileges.
  train::StoreClientOptions options;
  options.request_timeout = 2s;
  auto client = train::ConnectStore({"127.0.0.1", 1}, kToken, options).value();
  const auto started = std::chrono::steady_clock::now();
  auto status = client->TryGet("k").status();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("Failed to connect"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

}  // namespace
