// A real StoreServer on loopback, its HTTP clients, and raw HTTP where the client would not
// send what the test needs (no token, a huge body).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../sanitizer_build.h"
#include "train/store.h"

namespace train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

constexpr char kToken[] = "9f2c1e7a-test-token";

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::unique_ptr<StoreServer> StartServer(StoreLimits limits = {}, int port = 0) {
  StoreServerOptions options;
  options.port = port;
  options.token = kToken;
  options.limits = limits;
  Result<std::unique_ptr<StoreServer>> server = StoreServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(server).value() : nullptr;
}

std::unique_ptr<Store> Connect(const StoreAddress& address, std::string token = kToken) {
  StoreClientOptions options;
  options.request_timeout = std::chrono::seconds(5);
  options.default_timeout = std::chrono::seconds(5);
  Result<std::unique_ptr<Store>> store = ConnectStore(address, std::move(token), options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(store).value() : nullptr;
}

// One HTTP/1.1 request over a plain socket; returns the whole answer ("HTTP/1.1 401 ...").
std::string RawHttp(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    for (std::size_t sent = 0; sent < request.size();) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, n);
  }
  ::close(fd);
  return answer;
}

std::string Post(const std::string& op, const std::string& body,
                 const std::string& extra_headers = "") {
  return "POST /v1/" + op + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
         extra_headers +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// A loopback port with nothing listening: bound once to learn it, then released.
int UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class StoreServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServer();
    ASSERT_NE(server_, nullptr);
    client_ = Connect(server_->address());
    ASSERT_NE(client_, nullptr);
  }

  std::unique_ptr<StoreServer> server_;
  std::unique_ptr<Store> client_;
};

TEST_F(StoreServerTest, ListensOnTheAddressItReports) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->address(), (StoreAddress{"127.0.0.1", server_->port()}));
}

TEST_F(StoreServerTest, EveryOperationWorksOverHttp) {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  ASSERT_TRUE(client_->Set("blob", bytes).ok());
  EXPECT_EQ(*client_->Get("blob", Milliseconds(0)), bytes);
  EXPECT_EQ(*client_->TryGet("blob"), std::optional<std::string>(bytes));
  EXPECT_EQ(*client_->TryGet("absent"), std::nullopt);

  EXPECT_EQ(*client_->Add("count", 3), 3);
  EXPECT_EQ(*client_->Add("count", -1), 2);
  Result<std::int64_t> not_a_number = client_->Add("blob", 1);
  EXPECT_EQ(not_a_number.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(not_a_number.status().message(), HasSubstr("key 'blob'"));

  EXPECT_EQ(*client_->CompareSet("leader", std::nullopt, "node0"),
            std::optional<std::string>("node0"));
  EXPECT_EQ(*client_->CompareSet("leader", std::nullopt, "node1"),
            std::optional<std::string>("node0"));
  EXPECT_EQ(*client_->CompareSet("leader", "node0", "node2"), std::optional<std::string>("node2"));
  EXPECT_EQ(*client_->CompareSet("nobody", "x", "y"), std::nullopt);

  EXPECT_TRUE(client_->Wait({"blob", "count", "leader"}, Milliseconds(0)).ok());
  EXPECT_THAT(*client_->Keys("l"), ElementsAre("leader"));
  EXPECT_THAT(*client_->Keys(""), ElementsAre("blob", "count", "leader"));
  EXPECT_TRUE(*client_->Delete("leader"));
  EXPECT_FALSE(*client_->Delete("leader"));

  EXPECT_EQ(client_->Set("bad key", "v").code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreServerTest, MultiGetReadsAThousandKeysInOneRequest) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back("member/" + std::to_string(i));
    if (i % 3 != 0) {
      ASSERT_TRUE(client_->Set(keys.back(), std::string(i % 7, '\0') + "x").ok());
    }
  }
  auto values = client_->MultiGet(keys);
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    if (i % 3 == 0) {
      EXPECT_EQ((*values)[static_cast<std::size_t>(i)], std::nullopt) << i;
    } else {
      EXPECT_EQ((*values)[static_cast<std::size_t>(i)], std::string(i % 7, '\0') + "x") << i;
    }
  }
}

TEST_F(StoreServerTest, MultiSetWritesAThousandKeysInOneRequest) {
  std::vector<std::string> keys, values;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back("rank/" + std::to_string(i));
    values.push_back(std::string(i % 5, '\0') + std::to_string(i));
  }
  std::thread waiter(
      [&] { EXPECT_EQ(*client_->Get("rank/999", Milliseconds(10000)), values[999]); });
  ASSERT_TRUE(client_->MultiSet(keys, values).ok());
  waiter.join();
  auto read = client_->MultiGet(keys);
  ASSERT_TRUE(read.ok()) << read.status();
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ((*read)[i], values[i]) << i;
  EXPECT_EQ(client_->MultiSet({"a", "b"}, {"1"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->MultiSet({"fresh", "bad key"}, {"1", "2"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*client_->TryGet("fresh"), std::nullopt);
}

TEST_F(StoreServerTest, TtlExpiresOverHttp) {
  // Long enough for the next request to come first on a slow machine; then it must go.
  const auto set_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(client_->Set("heartbeat/node0", "1", Milliseconds(2000)).ok());
  EXPECT_THAT(*client_->Keys("heartbeat/"), ElementsAre("heartbeat/node0"));
  while (client_->TryGet("heartbeat/node0")->has_value() &&
         std::chrono::steady_clock::now() - set_at < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(Milliseconds(20));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - set_at, Milliseconds(2000)) << "expired early";
  EXPECT_EQ(*client_->TryGet("heartbeat/node0"), std::nullopt);
}

TEST_F(StoreServerTest, DeadlinesNameTheMissingKeys) {
  Result<std::string> value = client_->Get("rank/3/addr", Milliseconds(30));
  EXPECT_EQ(value.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(value.status().message(), HasSubstr("30 ms waiting for key 'rank/3/addr'"));

  ASSERT_TRUE(client_->Set("rank/0", "up").ok());
  Status status = client_->Wait({"rank/0", "rank/1"}, Milliseconds(30));
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("1 of 2 keys: 'rank/1'"));
}

TEST_F(StoreServerTest, WrongTokenIsRefusedAndChangesNothing) {
  std::unique_ptr<Store> intruder = Connect(server_->address(), "not-the-token");
  Status status = intruder->Set("leader", "evil");
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("refused the token: check TRAIN_TOKEN_FILE"));
  EXPECT_THAT(status.message(), Not(HasSubstr("not-the-token")));
  EXPECT_THAT(status.message(), Not(HasSubstr(kToken)));
  EXPECT_EQ(intruder->TryGet("leader").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(intruder->Get("leader", Milliseconds(10)).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(*client_->TryGet("leader"), std::nullopt);
}

TEST_F(StoreServerTest, MissingTokenIsRefusedWith401) {
  const std::string body = R"({"key":"leader","value":"ZXZpbA==","ttl_ms":0})";
  const std::string answer = RawHttp(server_->port(), Post("set", body));
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 401"));
  EXPECT_THAT(answer, HasSubstr("Authorization: Bearer <token>"));
  EXPECT_THAT(answer, Not(HasSubstr(kToken)));

  const std::string wrong =
      RawHttp(server_->port(), Post("set", body, "Authorization: Bearer guess\r\n"));
  EXPECT_THAT(wrong, StartsWith("HTTP/1.1 401"));
  EXPECT_THAT(wrong, Not(HasSubstr(kToken)));
  EXPECT_EQ(*client_->TryGet("leader"), std::nullopt);

  const std::string ok = RawHttp(
      server_->port(), Post("set", body, "Authorization: Bearer " + std::string(kToken) + "\r\n"));
  EXPECT_THAT(ok, StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(*client_->TryGet("leader"), std::optional<std::string>("evil"));
}

TEST_F(StoreServerTest, UnknownPathsAndMethodsAreRefused) {
  const std::string auth = "Authorization: Bearer " + std::string(kToken) + "\r\n";
  EXPECT_THAT(RawHttp(server_->port(), Post("explode", "{}", auth)), StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(RawHttp(server_->port(),
                      "GET /v1/keys HTTP/1.1\r\nHost: x\r\nConnection: "
                      "close\r\n" +
                          auth + "\r\n"),
              StartsWith("HTTP/1.1 405"));
}

TEST(StoreServerLimitsTest, OversizedValuesAreRefusedNamingTheLimit) {
  StoreLimits limits;
  limits.max_value_bytes = 1024;
  std::unique_ptr<StoreServer> server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<Store> client = Connect(server->address());

  EXPECT_TRUE(client->Set("fits", std::string(1024, 'x')).ok());
  Status just_over = client->Set("k", std::string(1025, 'x'));
  EXPECT_EQ(just_over.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(just_over.message(), HasSubstr("1025 bytes"));
  EXPECT_THAT(just_over.message(), HasSubstr("StoreLimits.max_value_bytes"));

  // Far over: refused from the Content-Length (HTTP 413) before the body is decoded.
  Status huge = client->Set("k", std::string(4 << 20, 'x'));
  EXPECT_EQ(huge.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(huge.message(), HasSubstr("StoreLimits.max_value_bytes = 1024"));
  const std::string raw =
      RawHttp(server->port(), Post("set", std::string(3 << 20, 'x'),
                                   "Authorization: Bearer " + std::string(kToken) + "\r\n"));
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 413"));
  EXPECT_EQ(*client->TryGet("k"), std::nullopt);
}

TEST_F(StoreServerTest, BlockingGetIsAnsweredWhenAnotherClientSets) {
  std::unique_ptr<Store> other = Connect(server_->address());
  std::thread setter([&] {
    std::this_thread::sleep_for(Milliseconds(50));
    EXPECT_TRUE(other->Set("master", "node0:29500").ok());
  });
  const auto start = Clock::now();
  Result<std::string> value = client_->Get("master", std::chrono::seconds(10));
  const double waited = MillisecondsSince(start);
  setter.join();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "node0:29500");
  EXPECT_GE(waited, 45);
  EXPECT_LT(waited, 5000);
}

TEST(StoreClientTimeoutTest, LongGetIsNotCutByTheRequestTimeout) {
  std::unique_ptr<StoreServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  StoreClientOptions options;
  options.request_timeout = Milliseconds(100);
  std::unique_ptr<Store> client = *ConnectStore(server->address(), kToken, options);
  std::unique_ptr<Store> setter = Connect(server->address());
  std::thread later([&] {
    std::this_thread::sleep_for(Milliseconds(300));
    EXPECT_TRUE(setter->Set("slow", "done").ok());
  });
  Result<std::string> value = client->Get("slow", std::chrono::seconds(5));
  later.join();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "done");
}

// cpprest's listener has a pool of 40 threads: if a parked request held one, 200 of them
// would leave none to serve the Set, and this test would time out.
TEST_F(StoreServerTest, TwoHundredParkedGetsAreAllAnsweredByOneSet) {
  constexpr int kGetters = 200;
  std::atomic<int> answered{0};
  std::atomic<int> started{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < kGetters; ++i) {
    getters.emplace_back([&] {
      ++started;
      Result<std::string> value = client_->Get("go", std::chrono::seconds(20));
      if (value.ok() && *value == "now") ++answered;
    });
  }
  while (started < kGetters) std::this_thread::yield();
  std::this_thread::sleep_for(Milliseconds(200));  // let the requests reach the server
  EXPECT_EQ(answered.load(), 0);

  const auto start = Clock::now();
  ASSERT_TRUE(client_->Set("go", "now").ok());
  for (std::thread& getter : getters) getter.join();
  const double elapsed = MillisecondsSince(start);
  EXPECT_EQ(answered.load(), kGetters);
  EXPECT_LT(elapsed, 5000);
  std::printf("[ measure  ] %d parked Gets answered %.1f ms after the Set was sent\n", kGetters,
              elapsed);
}

// Lowers this thread's CPUs to one (the server started under it serves on one thread, as a
// store host pinned to one core does) and gives the old set back when destroyed.
class OneCpu {
 public:
  OneCpu() {
    sched_getaffinity(0, sizeof(old_), &old_);
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &old_)) {
        CPU_SET(cpu, &one);
        break;
      }
    }
    sched_setaffinity(0, sizeof(one), &one);
  }
  ~OneCpu() { sched_setaffinity(0, sizeof(old_), &old_); }
  OneCpu(const OneCpu&) = delete;
  OneCpu& operator=(const OneCpu&) = delete;

 private:
  cpu_set_t old_{};
};

// How many of `fds` have something to read now.
int Readable(const std::vector<int>& fds) {
  std::vector<pollfd> polled;
  for (int fd : fds) polled.push_back({fd, POLLIN, 0});
  ::poll(polled.data(), polled.size(), 0);
  return static_cast<int>(std::count_if(polled.begin(), polled.end(),
                                        [](const pollfd& p) { return (p.revents & POLLIN) != 0; }));
}

// One write that wakes thousands of parked requests (a round's record, at 4096 agents) must
// not hold every other client back until the last of their answers is written: the answers
// take turns with the sockets. On one server thread, the old order answered all 3000 before
// the other client's TryGet.
TEST(StoreServerFairnessTest, AnotherClientIsAnsweredWhileOneSetWakesThousands) {
  constexpr int kParked = 3000;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < 2 * kParked + 512) {
    GTEST_SKIP() << "needs " << 2 * kParked + 512 << " open files (a client and a server end per "
                 << "parked request); the limit here is " << files.rlim_cur;
  }
  OneCpu one_cpu;
  StoreLimits limits;
  limits.max_waiters = kParked;  // one more parked request is refused: all are in
  std::unique_ptr<StoreServer> server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<Store> setter = Connect(server->address());
  std::unique_ptr<Store> other = Connect(server->address());
  ASSERT_TRUE(other->TryGet("warm").ok());  // its connection is open before the burst

  const std::string get = Post("get", R"({"key":"go","timeout_ms":60000})",
                               "Authorization: Bearer " + std::string(kToken) + "\r\n");
  std::vector<int> fds;
  for (int i = 0; i < kParked; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(server->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << i;
    ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
    fds.push_back(fd);
  }
  for (auto start = Clock::now();;) {
    const Status park = setter->Get("probe", Milliseconds(1)).status();
    if (park.code() == StatusCode::kResourceExhausted) break;
    ASSERT_LT(MillisecondsSince(start), 20000) << "the parked requests never all arrived";
  }
  ASSERT_EQ(Readable(fds), 0);

  ASSERT_TRUE(setter->Set("go", "now").ok());
  const auto asked = Clock::now();
  ASSERT_TRUE(other->TryGet("x").ok());
  const double answered_in = MillisecondsSince(asked);
  const int written_before = Readable(fds);
  std::printf(
      "[ measure  ] another client answered in %.2f ms, when %d of %d woken requests "
      "were answered\n",
      answered_in, written_before, kParked);
  EXPECT_LT(written_before, kParked);

  int answered = 0;
  for (int fd : fds) {
    std::string answer;
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, n);
    if (answer.rfind("HTTP/1.1 200", 0) == 0 &&
        answer.find("\"bm93\"") != std::string::npos) {  // "now", base64
      ++answered;
    }
    ::close(fd);
  }
  EXPECT_EQ(answered, kParked);
}

TEST_F(StoreServerTest, StopAnswersParkedRequests) {
  std::optional<Result<std::string>> value;
  double waited = 0;
  std::thread getter([&] {
    const auto start = Clock::now();
    value.emplace(client_->Get("never", std::chrono::seconds(30)));
    waited = MillisecondsSince(start);
  });
  std::this_thread::sleep_for(Milliseconds(100));
  server_->Stop();
  getter.join();
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->status().code(), StatusCode::kUnavailable);
  EXPECT_LT(waited, 5000);
  server_->Stop();  // idempotent
  EXPECT_EQ(client_->TryGet("x").status().code(), StatusCode::kUnavailable);
}

TEST(StoreClientUnavailableTest, NothingListeningIsUnavailableQuickly) {
  const StoreAddress address{"127.0.0.1", UnusedPort()};
  std::unique_ptr<Store> client = Connect(address);
  const auto start = Clock::now();
  Status status = client->Set("k", "v");
  // Well before the 10 s request timeout (a sanitizer build is given longer).
  EXPECT_LT(MillisecondsSince(start), 2000 * std::min(kTestTimeScale, 4));
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(address.ToString()));
  EXPECT_EQ(client->Get("k", Milliseconds(50)).status().code(), StatusCode::kUnavailable);
}

TEST(StoreClientUnavailableTest, UnknownHostIsUnavailableNamingIt) {
  std::unique_ptr<Store> client = Connect({"no-such-host.invalid", 29400});
  Status status = client->Set("k", "v");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("no-such-host.invalid:29400"));
}

TEST(StoreServerRestartTest, ClientWorksAgainAndTheStateIsEmpty) {
  std::unique_ptr<StoreServer> first = StartServer();
  ASSERT_NE(first, nullptr);
  const StoreAddress address = first->address();
  std::unique_ptr<Store> client = Connect(address);
  ASSERT_TRUE(client->Set("members/node0", "1").ok());
  first->Stop();
  EXPECT_EQ(client->TryGet("members/node0").status().code(), StatusCode::kUnavailable);

  std::unique_ptr<StoreServer> second = StartServer({}, address.port);
  ASSERT_NE(second, nullptr);
  Result<std::optional<std::string>> value = client->TryGet("members/node0");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, std::nullopt) << "store state is soft: it does not survive a restart";
  EXPECT_TRUE(client->Set("members/node0", "1").ok());
}

TEST(StoreServerRestartTest, ClientWithAnIdleConnectionSurvivesARestart) {
  std::unique_ptr<StoreServer> first = StartServer();
  ASSERT_NE(first, nullptr);
  const int port = first->port();
  std::unique_ptr<Store> client = Connect(first->address());
  ASSERT_TRUE(client->Set("k", "1").ok());  // leaves a kept-alive connection in the pool
  first.reset();
  std::unique_ptr<StoreServer> second = StartServer({}, port);
  ASSERT_NE(second, nullptr);
  Result<std::optional<std::string>> value = client->TryGet("k");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, std::nullopt);
}

TEST(StoreServerStartTest, ServersOnPortZeroNeverCollide) {
  constexpr int kServers = 16;
  std::vector<std::unique_ptr<StoreServer>> servers(kServers);
  std::vector<std::thread> starters;
  for (int i = 0; i < kServers; ++i) {
    starters.emplace_back([&, i] { servers[i] = StartServer(); });
  }
  for (std::thread& starter : starters) starter.join();
  std::set<int> ports;
  for (const auto& server : servers) {
    ASSERT_NE(server, nullptr);
    ports.insert(server->port());
  }
  EXPECT_EQ(ports.size(), static_cast<std::size_t>(kServers));
}

TEST(StoreServerStartTest, PortInUseIsNamedInTheError) {
  std::unique_ptr<StoreServer> holder = StartServer();
  ASSERT_NE(holder, nullptr);
  StoreServerOptions options;
  options.port = holder->port();
  options.token = kToken;
  Result<std::unique_ptr<StoreServer>> second = StoreServer::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr(holder->address().ToString()));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));

  // The first server is unharmed by the attempt.
  std::unique_ptr<Store> client = Connect(holder->address());
  EXPECT_TRUE(client->Set("still", "serving").ok());
}

TEST(StoreServerStartTest, PortHeldByAnotherSocketIsNamedInTheError) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  StoreServerOptions options;
  options.port = ntohs(addr.sin_port);
  options.token = kToken;
  Result<std::unique_ptr<StoreServer>> server = StoreServer::Start(options);
  ::close(fd);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(),
              HasSubstr("127.0.0.1:" + std::to_string(options.port) + ": the port is in use"));
}

TEST(StoreServerStartTest, RefusesAnEmptyTokenAndABadHost) {
  StoreServerOptions options;
  Result<std::unique_ptr<StoreServer>> no_token = StoreServer::Start(options);
  EXPECT_EQ(no_token.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(no_token.status().message(), HasSubstr("token"));

  options.token = kToken;
  options.host = "no-such-host.invalid";
  Result<std::unique_ptr<StoreServer>> bad_host = StoreServer::Start(options);
  EXPECT_FALSE(bad_host.ok());
  EXPECT_THAT(bad_host.status().message(), HasSubstr("no-such-host.invalid"));
}

TEST_F(StoreServerTest, RoundTripLatencyOverLoopback) {
  constexpr int kRounds = 200;
  std::vector<double> samples;
  for (int i = 0; i < kRounds; ++i) {
    const auto start = Clock::now();
    ASSERT_TRUE(client_->Set("latency", std::to_string(i)).ok());
    ASSERT_EQ(*client_->Get("latency", Milliseconds(1000)), std::to_string(i));
    samples.push_back(MillisecondsSince(start));
  }
  std::sort(samples.begin(), samples.end());
  std::printf("[ measure  ] Set+Get round trip over loopback: median %.3f ms, p90 %.3f ms\n",
              samples[kRounds / 2], samples[kRounds * 9 / 10]);
  EXPECT_LT(samples[kRounds / 2], 50);
}

}  // namespace
}  // namespace train
