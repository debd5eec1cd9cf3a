// Ranks as processes meeting through a real store server: results right on one host and on
// two (host ids), a peer SIGKILLed mid-op fails the others fast with UNAVAILABLE naming it, a
// peer that stops calling makes the others time out naming it, the same for gradient buckets;
// and under `trainctl run`.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../../../sanitizer_build.h"
#include "train/store.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Child {
  pid_t pid = -1;
  std::string log;
  int exit_code = -1;
  std::string output;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for every child up to `limit`, then SIGKILLs what is left (and records -9).
void WaitAll(std::vector<Child>& children, std::chrono::seconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  for (auto& child : children) {
    int status = 0;
    while (true) {
      const pid_t done = waitpid(child.pid, &status, WNOHANG);
      if (done == child.pid) break;
      if (std::chrono::steady_clock::now() > give_up) {
        kill(child.pid, SIGKILL);
        waitpid(child.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    child.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    child.output = Slurp(child.log);
    unlink(child.log.c_str());
  }
}

class ProcessRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    auto token = train::NewToken();
    ASSERT_TRUE(token.ok());
    token_ = *token;
    char dir[] = "/tmp/comm-process-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    token_file_ = dir_ + "/token";
    std::ofstream(token_file_) << token_;
  }
  void TearDown() override {
    unlink(token_file_.c_str());
    rmdir(dir_.c_str());
  }

  // Starts `world` workers with `extra` flags; `host_of(rank)` gives each one's host id.
  std::vector<Child> Start(int world, const std::vector<std::string>& extra,
                           const std::function<std::string(int)>& host_of = nullptr) {
    // A fresh store per job, as each rendezvous round has its own keys.
    train::StoreServerOptions options;
    options.token = token_;
    auto server = train::StoreServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    std::vector<Child> children(world);
    for (int rank = 0; rank < world; ++rank) {
      std::vector<std::string> args = {
          COMM_WORKER_BINARY,   "--store",   server_->address().ToString(),
          "--token-file",       token_file_, "--rank",
          std::to_string(rank), "--world",   std::to_string(world)};
      if (host_of) {
        args.push_back("--host-id");
        args.push_back(host_of(rank));
      }
      args.insert(args.end(), extra.begin(), extra.end());
      children[rank].log = dir_ + "/rank" + std::to_string(rank) + ".log";
      children[rank].pid = Spawn(args, children[rank].log);
    }
    return children;
  }

  std::unique_ptr<train::StoreServer> server_;
  std::string token_;
  std::string dir_;
  std::string token_file_;
};

std::string TwoHosts(int rank) { return rank % 2 == 0 ? "even" : "odd"; }

TEST_F(ProcessRanks, AllReduceIsRightOnOneHostAndOnTwo) {
  for (bool two_hosts : {false, true}) {
    SCOPED_TRACE(two_hosts ? "two hosts" : "one host");
    auto children = Start(4, {"--ops", "4", "--count", "300001"},
                          two_hosts ? std::function<std::string(int)>(TwoHosts) : nullptr);
    WaitAll(children, std::chrono::seconds(120));
    for (const auto& child : children) {
      EXPECT_EQ(child.exit_code, 0) << child.output;
      EXPECT_THAT(child.output, HasSubstr("4 all-reduces of 300001 floats right"));
    }
  }
}

TEST_F(ProcessRanks, APeerKilledMidOpFailsTheOthersFastNamingIt) {
  // Shared memory (one host), and TCP (every rank its own host).
  for (bool one_host : {true, false}) {
    SCOPED_TRACE(one_host ? "one host" : "three hosts");
    // The op timeout (120 s) is far beyond the wait: the others must notice the death itself.
    auto children =
        Start(3, {"--ops", "5", "--die-rank", "2", "--die-at", "3", "--timeout-ms", "120000"},
              one_host ? nullptr : std::function<std::string(int)>([](int rank) {
                return "host" + std::to_string(rank);
              }));
    WaitAll(children, std::chrono::seconds(60));
    EXPECT_EQ(children[2].exit_code, -SIGKILL);
    for (int rank : {0, 1}) {
      EXPECT_EQ(children[rank].exit_code, 1) << children[rank].output;
      EXPECT_THAT(children[rank].output, HasSubstr("UNAVAILABLE: allreduce #"));
      EXPECT_THAT(children[rank].output, HasSubstr("rank 2"));
    }
  }
}

// GradientBuckets across processes: right sums, and a rank killed halfway through its
// backward (half its gradients marked, its later buckets never issued) fails the others'
// Finish fast with UNAVAILABLE naming it and the bucket, not at the 120 s timeout.
TEST_F(ProcessRanks, BucketedStepsAndAPeerKilledInBackward) {
  auto good = Start(3, {"--buckets", "1", "--ops", "3", "--count", "80000"});
  WaitAll(good, std::chrono::seconds(120));
  for (const auto& child : good) {
    EXPECT_EQ(child.exit_code, 0) << child.output;
    EXPECT_THAT(child.output, HasSubstr("3 bucketed steps of 80000 floats right"));
  }
  const auto start = std::chrono::steady_clock::now();
  auto children = Start(3, {"--buckets", "1", "--ops", "4", "--count", "80000", "--die-rank", "2",
                            "--die-at", "2", "--timeout-ms", "120000"});
  WaitAll(children, std::chrono::seconds(60));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(children[2].exit_code, -SIGKILL);
  for (int rank : {0, 1}) {
    EXPECT_EQ(children[rank].exit_code, 1) << children[rank].output;
    EXPECT_THAT(children[rank].output, HasSubstr("UNAVAILABLE"));
    EXPECT_THAT(children[rank].output, HasSubstr("gradient bucket"));
    EXPECT_THAT(children[rank].output, HasSubstr("rank 2"));
  }
}

TEST_F(ProcessRanks, APeerThatStopsCallingIsNamedWhenTheOthersTimeOut) {
  auto children = Start(3, {"--ops", "3", "--stall-rank", "1", "--stall-at", "2", "--timeout-ms",
                            std::to_string(2000 * kTestTimeScale)});
  // Ranks 0 and 2 fail within their timeout; rank 1 sleeps until it is killed.
  std::vector<Child> waiting = {children[0], children[2]};
  WaitAll(waiting, std::chrono::seconds(30) * kTestTimeScale);
  kill(children[1].pid, SIGKILL);
  waitpid(children[1].pid, nullptr, 0);
  unlink(children[1].log.c_str());
  children[0] = waiting[0];
  children[2] = waiting[1];
  for (int rank : {0, 2}) {
    EXPECT_EQ(children[rank].exit_code, 1) << children[rank].output;
    EXPECT_THAT(children[rank].output, HasSubstr("DEADLINE_EXCEEDED"));
    EXPECT_THAT(children[rank].output, HasSubstr("allreduce #2 (sum, float32 x 1048576)"));
    EXPECT_THAT(children[rank].output, HasSubstr("rank(s) 1 did not arrive"));
  }
}

TEST(TrainctlRun, WorkersOfAJobAllReduce) {
  std::vector<Child> children(1);
  char log[] = "/tmp/comm-trainctl-XXXXXX";
  const int fd = mkstemp(log);
  ASSERT_GE(fd, 0);
  close(fd);
  children[0].log = log;
  children[0].pid = Spawn({TRAINCTL_BINARY, "run", "--nproc", "3", "--", COMM_WORKER_BINARY,
                           "--ops", "3", "--count", "100000"},
                          log);
  WaitAll(children, std::chrono::seconds(120));
  EXPECT_EQ(children[0].exit_code, 0) << children[0].output;
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_THAT(children[0].output, HasSubstr("rank " + std::to_string(rank) +
                                              ": 3 all-reduces of 100000 floats right"));
  }
  EXPECT_THAT(children[0].output, Not(HasSubstr("UNAVAILABLE")));
}

}  // namespace
