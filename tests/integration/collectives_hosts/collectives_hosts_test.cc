// The CPU communicator across two hosts of two ranks each, as pods on one machine
// (pod_sandbox.h): each host runs `trainctl agent` for its two workers (hosts_worker.cc).
// The ranks must find out by themselves which of them share a host (nothing tells them but
// the host: its name, IPC namespace and /dev/shm), all-reduce hierarchically (shared memory
// within a host, TCP between the hosts over the bridge), get every op right, and fail fast,
// naming the culprit, when a rank of the other host dies mid-op.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>

#include "pod_sandbox.h"

namespace collectives_hosts_test {
namespace {

namespace fs = std::filesystem;
using pod_sandbox::PodCluster;
using pod_sandbox::ReadFile;
using pod_sandbox::RunCommand;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr int kHosts = 2;

std::string Quote(const std::string& value) {
  std::string out = "'";
  for (char ch : value) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

class CollectivesAcrossHosts : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "collectives-hosts-XXXXXX").string();
    scratch_ = mkdtemp(pattern.data());
    std::string why_not;
    cluster_ = PodCluster::Create(&why_not);
    if (cluster_ == nullptr) GTEST_SKIP() << "cannot make hosts on this machine: " << why_not;
    std::cout << "[  hosts   ] " << cluster_->ModeDescription() << std::endl;
    for (int h = 0; h < kHosts; ++h) addresses_.push_back(cluster_->AddSandbox(Host(h)));
    port_ = 29500;
    if (cluster_->mode() != PodCluster::Mode::kNetworkNamespaces) {
      auto free_port = RunCommand(
          "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
          "print(s.getsockname()[1])'");
      ASSERT_EQ(free_port.status, 0) << free_port.output;
      port_ = std::stoi(free_port.output);
    }
    std::ofstream(Path("token")) << "9e107d9d372bb6826bd81d3542a419d6e277d4d731479571562f82f0\n";
  }

  void TearDown() override {
    cluster_.reset();
    std::error_code ignored;
    fs::remove_all(scratch_, ignored);
  }

  static std::string Host(int h) { return "host" + std::to_string(h); }
  std::string Path(const std::string& name) const { return (scratch_ / name).string(); }

  // Runs the job (2 nodes of 2 workers) with `worker_args`; each host's agent exit code.
  std::vector<std::optional<int>> RunJob(const std::string& worker_args, int max_restarts) {
    std::ofstream(Path("job.yaml"))
        << "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: hosts}\n"
        << "spec:\n  command: [" << Quote(HOSTS_WORKER_BINARY) << worker_args << "]\n"
        << "  nodes: " << kHosts << "\n  procsPerNode: 2\n"
        << "  rendezvous: {port: " << port_ << ", joinTimeout: 60s, lastCall: 300ms}\n"
        << "  failurePolicy: {maxRestarts: " << max_restarts << ", backoff: 100ms}\n"
        << "  collectives: {backend: cpu, timeout: 30s}\n";
    const std::string path = fs::path(TRAINCTL_BINARY).parent_path().string() + ":/usr/bin:/bin";
    std::vector<pid_t> agents;
    for (int h = 0; h < kHosts; ++h) {
      const std::string script =
          "cd /; exec env -i PATH=" + path + " HOME=/root " + Quote(TRAINCTL_BINARY) + " agent " +
          Quote(Path("job.yaml")) + " --store " + addresses_[0] + ":" + std::to_string(port_) +
          " --node-rank " + std::to_string(h) + " --host-store auto --token-file " +
          Quote(Path("token")) + " --run-dir " + Quote(Path("run-" + Host(h)));
      agents.push_back(
          cluster_->Start(Host(h), "node-" + std::to_string(h), script, Path(Host(h) + ".log")));
    }
    std::vector<std::optional<int>> codes;
    for (pid_t agent : agents) codes.push_back(cluster_->Wait(agent, 180s));
    return codes;
  }

  std::string Logs() const {
    std::string all;
    for (int h = 0; h < kHosts; ++h)
      all += "--- " + Host(h) + "\n" + ReadFile(Path(Host(h) + ".log"));
    return all;
  }

  fs::path scratch_;
  std::unique_ptr<PodCluster> cluster_;
  std::vector<std::string> addresses_;
  int port_ = 0;
};

TEST_F(CollectivesAcrossHosts, EveryOpIsRightOnTwoHostsOfTwoRanks) {
  const auto codes = RunJob("", 0);
  const std::string logs = Logs();
  for (int h = 0; h < kHosts; ++h) EXPECT_EQ(codes[h], 0) << Host(h) << "\n" << logs;
  for (int r = 0; r < 4; ++r) {
    EXPECT_TRUE(
        std::regex_search(logs, std::regex("rank " + std::to_string(r) + ": [0-9]+ checks passed")))
        << "rank " << r << "\n"
        << logs;
  }
  // Ranks 0-1 share host 0 and 2-3 host 1, found from the hosts themselves; each rank is
  // reached at its own host's address (over the bridge, in network namespaces).
  const std::string layout =
      "2 hosts (ranks 0-1 | 2-3), shared memory within a host, TCP between hosts";
  // (With loopback aliases every rank routes from 127.0.0.1.)
  const bool netns = cluster_->mode() == PodCluster::Mode::kNetworkNamespaces;
  for (int r = 0; r < 4; ++r) {
    EXPECT_THAT(logs,
                HasSubstr("rank " + std::to_string(r) + ": describe: cpu communicator " +
                          "\"world\": rank " + std::to_string(r) + " of 4, " + layout +
                          " (this rank at " + (netns ? addresses_[r / 2] : "127.0.0.1") + ")"))
        << logs;
  }
  // The children of Split(rank % 2) hold one rank per host: TCP only.
  EXPECT_THAT(logs, HasSubstr("2 hosts (ranks 0 | 1), TCP between hosts")) << logs;
  std::cout << "[  hosts   ] " << logs.substr(logs.find("describe: ")).substr(0, 200) << "\n";
}

TEST_F(CollectivesAcrossHosts, AKilledRankFailsTheRanksOfBothHostsFastNamingIt) {
  // One restart: the agents stop the survivors with a grace (SIGTERM first), as when the job
  // goes on; the restarted group exits at once.
  const auto codes = RunJob(", --kill-rank, '3'", 1);
  const std::string logs = Logs();
  for (int h = 0; h < kHosts; ++h) EXPECT_EQ(codes[h], 0) << Host(h) << "\n" << logs;
  // Rank 2 shares rank 3's host (shared memory); ranks 0 and 1 are on the other host (TCP).
  const std::regex failed("rank ([0-2]): failed after ([0-9]+) ms: (.*)");
  std::set<int> reported;
  for (auto it = std::sregex_iterator(logs.begin(), logs.end(), failed);
       it != std::sregex_iterator(); ++it) {
    const int rank = std::stoi((*it)[1]);
    const long long ms = std::stoll((*it)[2]);
    const std::string status = (*it)[3];
    reported.insert(rank);
    std::cout << "[  hosts   ] rank " << rank << " failed after " << ms << " ms: " << status
              << "\n";
    EXPECT_THAT(status, HasSubstr("UNAVAILABLE")) << "rank " << rank;
    EXPECT_THAT(status, HasSubstr("rank 3")) << "rank " << rank;
    // Rank 3 dies 300 ms into the op; the timeout is 30 s.
    EXPECT_LT(ms, 10000) << "rank " << rank << ": " << status;
  }
  EXPECT_EQ(reported, (std::set<int>{0, 1, 2})) << logs;
}

}  // namespace
}  // namespace collectives_hosts_test
