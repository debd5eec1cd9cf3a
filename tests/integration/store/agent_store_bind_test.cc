// `trainctl agent --host-store` listens where --store says, not on every interface: with
// `--store 127.0.0.1:PORT` the store is reachable from this machine only, and --store-bind
// chooses another address to listen on. The listening sockets are read from /proc/net/tcp*,
// and another socket binds the same port on another loopback address to show it is free.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A loopback port nothing listens on: bound once to learn it, then released.
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

// The local addresses (hex, as /proc/net/tcp writes them) of sockets listening on `port`.
std::vector<std::string> ListenersOn(int port) {
  char hex_port[8];
  std::snprintf(hex_port, sizeof(hex_port), "%04X", port);
  std::vector<std::string> found;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const std::size_t colon = local.find(':');
      if (state == "0A" && colon != std::string::npos && local.substr(colon + 1) == hex_port) {
        found.push_back(local.substr(0, colon));
      }
    }
  }
  return found;
}

// Whether a fresh socket can bind `address`:`port` (without SO_REUSEADDR).
bool CanBind(const char* address, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, address, &addr.sin_addr);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return bound;
}

class AgentStoreBindTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("agent-store-bind-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    token_file_ = (dir_ / "token").string();
    std::ofstream(token_file_) << "agent-store-bind-test-token\n";
    ::chmod(token_file_.c_str(), 0600);
    port_ = UnusedPort();
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      for (int i = 0; i < 300 && !Exited(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      ::kill(-pid_, SIGKILL);  // the agent and anything it started
      if (!Exited()) ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Starts a two-node agent that hosts the store; it waits for the other node meanwhile.
  void StartAgent(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {TRAINCTL_BINARY,    "agent",
                                     "--store",          "127.0.0.1:" + std::to_string(port_),
                                     "--host-store",     "true",
                                     "--token-file",     token_file_,
                                     "--run-dir",        (dir_ / "run").string(),
                                     "--nnodes",         "2",
                                     "--nproc-per-node", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", "/bin/true"});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log = (dir_ / "agent.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
  }

  bool Exited() {
    if (exited_) return true;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    return exited_;
  }

  // Waits until something listens on the port, or the agent exits, or 15 s pass.
  std::vector<std::string> WaitForListeners() {
    for (int i = 0; i < 1500; ++i) {
      std::vector<std::string> found = ListenersOn(port_);
      if (!found.empty() || Exited()) return found;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
  }

  // The log once it holds `needle` (the agent may write it just after it starts listening),
  // or as it is after 10 s.
  std::string LogOnceItHas(const std::string& needle) {
    for (int i = 0; i < 1000; ++i) {
      std::string log = Log();
      if (log.find(needle) != std::string::npos || Exited()) return log;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Log();
  }

  std::string Log() const {
    std::ifstream in(dir_ / "agent.log");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  fs::path dir_;
  std::string token_file_;
  int port_ = 0;
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

TEST_F(AgentStoreBindTest, AStoreAtALoopbackAddressListensOnLoopbackOnly) {
  StartAgent({});
  EXPECT_THAT(WaitForListeners(), ElementsAre("0100007F")) << Log();
  EXPECT_TRUE(CanBind("127.0.0.2", port_))
      << "the port is held on every address, not only 127.0.0.1";
  EXPECT_THAT(LogOnceItHas("hosts the store on"),
              HasSubstr("hosts the store on 127.0.0.1:" + std::to_string(port_)));
}

TEST_F(AgentStoreBindTest, StoreBindChoosesTheAddressToListenOn) {
  StartAgent({"--store-bind", "0.0.0.0"});
  EXPECT_THAT(WaitForListeners(), ElementsAre("00000000")) << Log();
  EXPECT_FALSE(CanBind("127.0.0.2", port_));
}

TEST_F(AgentStoreBindTest, AStoreBindThatIsNoAddressIsAUsageError) {
  StartAgent({"--store-bind", "not-an-address"});
  for (int i = 0; i < 1500 && !Exited(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(Exited()) << Log();
  EXPECT_TRUE(WIFEXITED(status_));
  EXPECT_EQ(WEXITSTATUS(status_), 2);
  EXPECT_THAT(Log(), HasSubstr("--store-bind is \"not-an-address\""));
  EXPECT_TRUE(ListenersOn(port_).empty());
}

}  // namespace
