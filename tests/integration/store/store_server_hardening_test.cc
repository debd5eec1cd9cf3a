// What a client without the token, or a misbehaving one, can make a StoreServer do, over real
// loopback sockets: heads that never end, bodies of any size announced or chunked, methods
// other than POST, clients that are slow, that vanish while their long poll is parked, or
// that are too many at once. Each is answered (401, 405, 408, 411, 413, 431, 503) or cut off,
// and the server keeps serving its real clients.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "raw_client.h"
#include "train/store.h"

namespace train {
namespace {

using store_test::ConnectLoopback;
using store_test::FloodServer;
using store_test::Post;
using store_test::ReadResponse;
using store_test::ReadUntilClosed;
using store_test::SendAll;
using store_test::Socket;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kToken[] = "hardening-test-token";
constexpr std::size_t kMiB = 1 << 20;

std::unique_ptr<StoreServer> StartServer(const StoreLimits& limits = {}) {
  StoreServerOptions options;
  options.token = kToken;
  options.limits = limits;
  Result<std::unique_ptr<StoreServer>> server = StoreServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(server).value() : nullptr;
}

std::unique_ptr<Store> Connect(const StoreServer& server) {
  StoreClientOptions options;
  options.request_timeout = std::chrono::seconds(5);
  Result<std::unique_ptr<Store>> store = ConnectStore(server.address(), kToken, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Polls `done` until it holds or 10 s pass; true when it held.
bool Eventually(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A set, then a get of the same key, through the real client.
void ExpectServes(const StoreServer& server, const std::string& key) {
  std::unique_ptr<Store> client = Connect(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Set(key, "still serving").ok());
  Result<std::string> value = client->Get(key, Milliseconds(1000));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "still serving");
}

std::string SetBody(const std::string& key) {
  return R"({"key":")" + key + R"(","value":"dg==","ttl_ms":0})";
}

TEST(StoreServerHardening, AnEndlessHeadIsCutOffAtItsCap) {
  std::unique_ptr<StoreServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const store_test::Flood flood =
      FloodServer(server->port(), "POST /v1/set HTTP/1.1\r\nX-Filler: ", 'a', 512 * kMiB, false);
  EXPECT_THAT(flood.answer, StartsWith("HTTP/1.1 431 "));
  EXPECT_THAT(flood.answer, HasSubstr("16384 bytes"));
  EXPECT_LT(flood.sent, 64 * kMiB) << "the server kept reading a head that never ends";
  ExpectServes(*server, "after-endless-head");
}

TEST(StoreServerHardening, AHugeChunkedBodyWithoutTheTokenIsRefusedUnread) {
  std::unique_ptr<StoreServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string head =
      "POST /v1/set HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20000000\r\n";
  const store_test::Flood flood = FloodServer(server->port(), head, 'x', 512 * kMiB, false);
  EXPECT_THAT(flood.answer, StartsWith("HTTP/1.1 401 "));
  EXPECT_THAT(flood.answer, HasSubstr("Authorization: Bearer <token>"));
  EXPECT_LT(flood.sent, 64 * kMiB) << "the server read the body of a request without the token";
  ExpectServes(*server, "after-chunked");
}

TEST(StoreServerHardening, AHugeContentLengthWithoutTheTokenIsRefusedUnread) {
  std::unique_ptr<StoreServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string head =
      "POST /v1/set HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer guess\r\n"
      "Content-Length: 536870912\r\n\r\n";
  const store_test::Flood flood = FloodServer(server->port(), head, 'x', 512 * kMiB, false);
  EXPECT_THAT(flood.answer, StartsWith("HTTP/1.1 401 "));
  EXPECT_THAT(flood.answer, Not(HasSubstr(kToken)));
  EXPECT_LT(flood.sent, 64 * kMiB);
}

TEST(StoreServerHardening, AnOversizedBodyWithTheTokenGets413BeforeItIsSent) {
  std::unique_ptr<StoreServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string head = "POST /v1/set HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           std::string(kToken) + "\r\nContent-Length: 536870912\r\n\r\n";
  Socket socket(ConnectLoopback(server->port()));
  ASSERT_TRUE(SendAll(socket.fd(), head));
  const std::string answer = ReadResponse(socket.fd());  // not a byte of the body sent
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413 "));
  EXPECT_THAT(answer, HasSubstr("536870912 bytes"));
  EXPECT_THAT(answer, HasSubstr("StoreLimits.max_value_bytes"));

  Socket chunked(ConnectLoopback(server->port()));
  ASSERT_TRUE(SendAll(chunked.fd(), "POST /v1/set HTTP/1.1\r\nAuthorization: Bearer " +
                                        std::string(kToken) +
                                        "\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_THAT(ReadResponse(chunked.fd()), StartsWith("HTTP/1.1 411 "));
}

TEST(StoreServerHardening, OtherMethodsWithoutTheTokenGet401AndWithIt405) {
  std::unique_ptr<StoreServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  for (const std::string method : {"TRACE", "OPTIONS", "GET", "HEAD", "DELETE", "PUT"}) {
    for (const std::string target : {"/v1/set", "/", "*"}) {
      Socket socket(ConnectLoopback(server->port()));
      ASSERT_TRUE(SendAll(socket.fd(), method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
      const std::string answer = ReadUntilClosed(socket.fd());
      EXPECT_THAT(answer, StartsWith("HTTP/1.1 401 ")) << method << " " << target;
      EXPECT_THAT(answer, Not(HasSubstr(method + " " + target))) << "no echo, unlike TRACE";
    }
  }
  Socket socket(ConnectLoopback(server->port()));
  ASSERT_TRUE(SendAll(socket.fd(), "TRACE /v1/set HTTP/1.1\r\nAuthorization: Bearer " +
                                       std::string(kToken) + "\r\n\r\n"));
  EXPECT_THAT(ReadUntilClosed(socket.fd()), StartsWith("HTTP/1.1 405 "));
}

TEST(StoreServerHardening, AKeptAliveConnectionServesPipelinedRequestsInOrder) {
  std::unique_ptr<StoreServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  Socket socket(ConnectLoopback(server->port()));
  ASSERT_TRUE(SendAll(socket.fd(),
                      Post("set", SetBody("a"), kToken) + Post("tryget", R"({"key":"a"})", kToken) +
                          Post("tryget", R"({"key":"b"})", kToken, "Connection: close\r\n")));
  const std::string answers = ReadUntilClosed(socket.fd());
  const std::size_t first = answers.find("HTTP/1.1 200");
  const std::size_t second = answers.find("HTTP/1.1 200", first + 1);
  const std::size_t third = answers.find("HTTP/1.1 200", second + 1);
  ASSERT_NE(third, std::string::npos) << answers;
  EXPECT_THAT(answers.substr(second, third - second), HasSubstr(R"({"value":"dg=="})"));
  EXPECT_THAT(answers.substr(third), HasSubstr(R"({"value":null})"));
}

TEST(StoreServerHardening, AClientThatShutsItsSideAfterTheRequestGetsTheAnswer) {
  std::unique_ptr<StoreServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  Socket socket(ConnectLoopback(server->port()));
  ASSERT_TRUE(SendAll(socket.fd(), Post("set", SetBody("half"), kToken)));
  ::shutdown(socket.fd(), SHUT_WR);
  EXPECT_THAT(ReadUntilClosed(socket.fd()), StartsWith("HTTP/1.1 200 "));
}

// A slowloris client trickles its head; it is answered 408 when read_timeout passes, and
// meanwhile the store serves others as usual.
TEST(StoreServerHardening, ASlowClientTimesOutWithoutBlockingOthers) {
  StoreLimits limits;
  limits.read_timeout = Milliseconds(400);
  std::unique_ptr<StoreServer> server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  Socket slow(ConnectLoopback(server->port()));
  ASSERT_TRUE(SendAll(slow.fd(), "POST /v1/set HTTP/1.1\r\n"));
  std::thread trickle([fd = slow.fd()] {
    for (int i = 0; i < 200; ++i) {  // at most 10 s
      if (!SendAll(fd, "X-A: b\r\n")) return;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return;  // answered
    }
  });
  std::unique_ptr<Store> client = Connect(*server);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client->Set("k", std::to_string(i)).ok());
    EXPECT_EQ(*client->TryGet("k"), std::optional<std::string>(std::to_string(i)));
  }
  trickle.join();
  const std::string answer = ReadUntilClosed(slow.fd());
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 408 "));
  EXPECT_THAT(answer, HasSubstr("StoreLimits.read_timeout"));
}

TEST(StoreServerHardening, IdleConnectionsAreClosed) {
  StoreLimits limits;
  limits.idle_timeout = Milliseconds(200);
  std::unique_ptr<StoreServer> server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  Socket idle(ConnectLoopback(server->port()));
  char byte;
  EXPECT_EQ(::recv(idle.fd(), &byte, 1, 0), 0) << "closed by the server, without an answer";
  ExpectServes(*server, "after-idle");
}

// Clients whose long polls are parked, then vanish: their sockets and their places under
// max_waiters are given back at once, not when their 60 s timeouts pass.
TEST(StoreServerHardening, ParkedLongPollsOfVanishedClientsReleaseTheirSockets) {
  constexpr int kParked = 32;
  StoreLimits limits;
  limits.max_waiters = kParked;
  std::unique_ptr<StoreServer> server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<Store> client = Connect(*server);
  ASSERT_TRUE(client->Set("warm", "up").ok());  // the client's own connection exists now
  const int before = store_test::CountOpenFds();

  const std::string get = Post("get", R"({"key":"never","timeout_ms":60000})", kToken);
  std::vector<Socket> parked;
  for (int i = 0; i < kParked; ++i) {
    parked.emplace_back(ConnectLoopback(server->port()));
    ASSERT_TRUE(SendAll(parked.back().fd(), get));
  }
  // Every place is taken once one more is refused at once. (A probe that comes before the
  // last of them takes a place for its 50 ms, and that one is refused: it is sent again.)
  Status refused;
  ASSERT_TRUE(Eventually([&] {
    refused = client->Get("never", Milliseconds(50)).status();
    if (refused.code() == StatusCode::kResourceExhausted) return true;
    for (Socket& socket : parked) {
      pollfd p{socket.fd(), POLLIN, 0};
      if (::poll(&p, 1, 0) == 0) continue;
      socket = Socket(ConnectLoopback(server->port()));
      SendAll(socket.fd(), get);
    }
    return false;
  })) << refused;
  // Client and server sockets of every parked poll (less 2: the probing client may have
  // replaced its own connection meanwhile). Polled: a slowed server may still be accepting.
  EXPECT_TRUE(Eventually([&] { return store_test::CountOpenFds() >= before + 2 * kParked - 2; }))
      << store_test::CountOpenFds() << " descriptors open, " << before << " before";

  parked.clear();  // the clients go away
  // (+2: the client may have opened a second connection of its own meanwhile.)
  EXPECT_TRUE(Eventually([&] { return store_test::CountOpenFds() <= before + 2; }))
      << store_test::CountOpenFds() << " descriptors open, " << before << " before";
  Result<std::string> after = client->Get("never", Milliseconds(50));
  EXPECT_EQ(after.status().code(), StatusCode::kDeadlineExceeded) << after.status();
}

// Authenticated clients that announce bodies and send them slowly: the bytes held for them
// stay under max_buffered_bytes; one more is answered 503, the others finish.
TEST(StoreServerHardening, TheBytesHeldForRequestsStayUnderTheirCap) {
  StoreLimits limits;
  limits.max_buffered_bytes = 256 << 10;
  std::unique_ptr<StoreServer> server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  // Three bodies of ~100 KB: two fit under 256 KiB, three do not.
  std::vector<std::string> requests;
  std::vector<Socket> senders;
  for (int i = 0; i < 3; ++i) {
    const std::string body = R"({"key":"big)" + std::to_string(i) + R"(","value":")" +
                             std::string(100000, 'A') + R"(","ttl_ms":0})";
    requests.push_back(Post("set", body, kToken));
    senders.emplace_back(ConnectLoopback(server->port()));
    const std::size_t head = requests.back().size() - body.size();
    ASSERT_TRUE(SendAll(senders.back().fd(), requests.back().substr(0, head)));
  }
  int refused = -1;
  for (int tries = 0; refused < 0 && tries < 1000; ++tries) {
    std::vector<pollfd> polls;
    for (const Socket& sender : senders) polls.push_back({sender.fd(), POLLIN, 0});
    if (::poll(polls.data(), polls.size(), 10000) <= 0) break;
    for (int i = 0; i < 3; ++i) {
      if (polls[static_cast<std::size_t>(i)].revents != 0) refused = i;
    }
  }
  ASSERT_GE(refused, 0) << "no request was refused";
  const std::string answer = ReadUntilClosed(senders[static_cast<std::size_t>(refused)].fd());
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(answer, HasSubstr("StoreLimits.max_buffered_bytes"));
  for (int i = 0; i < 3; ++i) {
    if (i == refused) continue;
    const std::string& request = requests[static_cast<std::size_t>(i)];
    const int fd = senders[static_cast<std::size_t>(i)].fd();
    ASSERT_TRUE(SendAll(fd, request.substr(request.find("\r\n\r\n") + 4)));
    EXPECT_THAT(ReadResponse(fd), StartsWith("HTTP/1.1 200 "));
  }
  senders.clear();
  std::unique_ptr<Store> client = Connect(*server);
  EXPECT_TRUE(client->TryGet("big" + std::to_string((refused + 1) % 3))->has_value());
  EXPECT_TRUE(client->Set("big-again", std::string(75000, 'x')).ok()) << "the room came back";
}

TEST(StoreServerHardening, ConnectionsOverTheCapAreAnswered503) {
  StoreLimits limits;
  limits.max_connections = 4;
  std::unique_ptr<StoreServer> server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  std::vector<Socket> held;
  for (int i = 0; i < 4; ++i) held.emplace_back(ConnectLoopback(server->port()));
  Socket extra(ConnectLoopback(server->port()));
  const std::string answer = ReadUntilClosed(extra.fd());
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(answer, HasSubstr("StoreLimits.max_connections"));
  held.clear();
  std::unique_ptr<Store> client = Connect(*server);
  EXPECT_TRUE(Eventually([&] { return client->Set("k", "v").ok(); }));
}

TEST(StoreServerHardening, LimitsThatCannotWorkAreRefusedAtStart) {
  StoreServerOptions options;
  options.token = kToken;
  options.limits.max_head_bytes = 100;
  Result<std::unique_ptr<StoreServer>> server = StoreServer::Start(options);
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("StoreLimits.max_head_bytes is 100"));
  options.limits = {};
  options.limits.max_connections = 0;
  EXPECT_THAT(StoreServer::Start(options).status().message(),
              HasSubstr("StoreLimits.max_connections is 0"));
}

}  // namespace
}  // namespace train
