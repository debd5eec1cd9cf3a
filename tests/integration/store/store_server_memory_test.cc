// A StoreServer in its own process whose address space may grow only 128 MiB past what it
// uses once serving (store_server_child.cc), flooded by clients without the token: a head
// that never ends, chunked and announced bodies of 512 MiB. A server that buffered them
// would die of std::bad_alloc; this one answers each, stays small, and serves its client.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../../sanitizer_build.h"
#include "raw_client.h"
#include "train/store.h"

namespace train {
namespace {

using store_test::FloodServer;
using ::testing::StartsWith;

constexpr char kToken[] = "memory-test-token";
constexpr std::size_t kMiB = 1 << 20;
constexpr int kHeadroomMiB = 128;

// The child server; killed and reaped when this goes away, also when a test fails.
class ChildServer {
 public:
  static std::unique_ptr<ChildServer> Start() {
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) return nullptr;
    if (::pipe2(from_child, O_CLOEXEC) != 0) return nullptr;
    const std::string headroom = std::to_string(kHeadroomMiB);
    std::vector<char*> argv = {const_cast<char*>(STORE_SERVER_CHILD), const_cast<char*>(kToken),
                               const_cast<char*>(headroom.c_str()), nullptr};
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(to_child[0], STDIN_FILENO);
      ::dup2(from_child[1], STDOUT_FILENO);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    auto child = std::unique_ptr<ChildServer>(new ChildServer(pid, to_child[1], from_child[0]));
    return child->ReadPort() ? std::move(child) : nullptr;
  }

  ~ChildServer() {
    ::close(stdin_);
    ::close(stdout_);
    for (int i = 0; i < 500 && Alive(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (Alive()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
  }

  int port() const { return port_; }

  bool Alive() {
    if (exited_) return false;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    return !exited_;
  }
  int status() const { return status_; }

  // Resident memory, from /proc/PID/statm.
  std::size_t RssBytes() const {
    std::ifstream statm("/proc/" + std::to_string(pid_) + "/statm");
    std::size_t pages = 0;
    std::size_t resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  }

 private:
  ChildServer(pid_t pid, int in, int out) : pid_(pid), stdin_(in), stdout_(out) {}

  bool ReadPort() {
    std::string line;
    char c;
    for (;;) {
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0 || ::read(stdout_, &c, 1) != 1) return false;
      if (c == '\n') break;
      line += c;
    }
    if (line.rfind("port ", 0) != 0) return false;
    port_ = std::stoi(line.substr(5));
    return true;
  }

  pid_t pid_;
  int stdin_;
  int stdout_;
  int port_ = 0;
  int status_ = 0;
  bool exited_ = false;
};

TEST(StoreServerMemory, FloodsWithoutTheTokenDoNotGrowTheServer) {
  TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN();
  std::unique_ptr<ChildServer> child = ChildServer::Start();
  ASSERT_NE(child, nullptr) << "cannot start " << STORE_SERVER_CHILD;
  const std::size_t rss_before = child->RssBytes();

  struct Attack {
    std::string what;
    std::string head;
    const char* answer;
  };
  const std::vector<Attack> attacks = {
      {"a head that never ends", "POST /v1/set HTTP/1.1\r\nX-Filler: ", "HTTP/1.1 431 "},
      {"a 512 MiB chunked body",
       "POST /v1/set HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20000000\r\n", "HTTP/1.1 401 "},
      {"a 512 MiB announced body", "POST /v1/set HTTP/1.1\r\nContent-Length: 536870912\r\n\r\n",
       "HTTP/1.1 401 "},
  };
  for (const Attack& attack : attacks) {
    // Several at once, as an attacker would.
    std::vector<store_test::Flood> floods(4);
    std::vector<std::thread> senders;
    for (store_test::Flood& flood : floods) {
      senders.emplace_back([&, port = child->port()] {
        flood = FloodServer(port, attack.head, 'a', 512 * kMiB, /*stop_at_answer=*/false);
      });
    }
    for (std::thread& sender : senders) sender.join();
    ASSERT_TRUE(child->Alive()) << attack.what << " killed the server (wait status "
                                << child->status() << ")";
    for (const store_test::Flood& flood : floods) {
      EXPECT_THAT(flood.answer, StartsWith(attack.answer)) << attack.what;
      EXPECT_LT(flood.sent, 64 * kMiB) << attack.what << ": the server kept reading";
    }
  }
  const std::size_t rss_after = child->RssBytes();
  EXPECT_LT(rss_after, rss_before + 32 * kMiB)
      << "resident memory grew from " << rss_before << " to " << rss_after << " bytes";

  StoreClientOptions options;
  options.request_timeout = std::chrono::seconds(5);
  auto client = ConnectStore({"127.0.0.1", child->port()}, kToken, options);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Set("survivor", "yes").ok());
  EXPECT_EQ(*(*client)->TryGet("survivor"), std::optional<std::string>("yes"));
}

}  // namespace
}  // namespace train
