// The agent's collector over real sockets: workers' datagrams in, metrics.jsonl and /metrics
// out, and chaos rules that signal a real process exactly once.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "gtest/gtest.h"
#include "metrics_collector.h"
#include "train/store.h"

namespace trainctl::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("collector-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = train::NewInMemoryStore();
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  MetricsOptions Options() {
    MetricsOptions o;
    o.job = "test-job";
    o.run_dir = dir_.string();
    o.job_store = store_.get();
    return o;
  }

  // A real process in its own process group, as the agent's workers are.
  pid_t StartChild() {
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test
      while (true) pause();
    }
    setpgid(pid, pid);
    children_.push_back(pid);
    return pid;
  }

  static void Send(const std::string& path, const json& report) {
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    const std::string text = report.dump();
    sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    close(fd);
  }

  static json Report(int rank, pid_t pid, std::int64_t step) {
    return {{"v", 1},        {"t", 1000.0 + step},
            {"rank", rank},  {"pid", pid},
            {"step", step},  {"loss", 1.0 / (1 + step)},
            {"samples", 32}, {"values", {{"test_accuracy", 0.5}}}};
  }

  std::vector<json> Lines() const {
    std::vector<json> lines;
    std::ifstream in(dir_ / "metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) lines.push_back(json::parse(line));
    return lines;
  }

  static std::string HttpGet(int port, const std::string& path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return "";
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, request.data(), request.size(), 0);
    std::string response;
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
    close(fd);
    return response;
  }

  static bool Stopped(pid_t pid) {
    int status = 0;
    return waitpid(pid, &status, WUNTRACED | WNOHANG) == pid && WIFSTOPPED(status);
  }

  fs::path dir_;
  std::unique_ptr<train::Store> store_;
  std::vector<pid_t> children_;
};

TEST_F(CollectorTest, WritesReportsAndEventsAsJsonLines) {
  auto collector = MetricsCollector::Start(Options(), nullptr);
  ASSERT_TRUE(collector.ok()) << collector.status();
  (*collector)->RendezvousStarted();
  (*collector)->RoundStarted(0, 0, 1, 2, 0, {{0, 11}, {1, 12}});
  Send((*collector)->socket_path(), Report(0, 11, 1));
  Send((*collector)->socket_path(), Report(1, 12, 1));
  Send((*collector)->socket_path(), "garbage");
  (*collector)->RoundEnded(0, "succeeded");
  (*collector)->JobEnded(0);
  std::vector<json> lines = Lines();
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0]["type"], "agent_start");
  EXPECT_EQ(lines[0]["metrics_port"], (*collector)->http_port());
  EXPECT_EQ(lines[1]["type"], "rendezvous_start");
  EXPECT_EQ(lines[2]["type"], "round_start");
  EXPECT_EQ(lines[2]["workers"], 2);
  EXPECT_EQ(lines[3]["type"], "step");
  EXPECT_EQ(lines[4]["type"], "step");
  EXPECT_EQ(lines[4]["rank"], 1);
  EXPECT_DOUBLE_EQ(lines[4]["values"]["test_accuracy"].get<double>(), 0.5);
  EXPECT_EQ(lines[5]["type"], "round_end");
  EXPECT_EQ(lines[5]["outcome"], "succeeded");
  EXPECT_EQ(lines[6]["type"], "job_end");
  EXPECT_EQ(lines[6]["exit_code"], 0);
  std::ifstream port_file(dir_ / "metrics.port");
  int port = 0;
  port_file >> port;
  EXPECT_EQ(port, (*collector)->http_port());
}

TEST_F(CollectorTest, ServesPrometheusOverHttp) {
  auto collector = MetricsCollector::Start(Options(), nullptr);
  ASSERT_TRUE(collector.ok()) << collector.status();
  (*collector)->RoundStarted(0, 0, 1, 1, 0, {{0, 11}});
  Send((*collector)->socket_path(), Report(0, 11, 7));
  (*collector)->Drain();
  const std::string response = HttpGet((*collector)->http_port(), "/metrics");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(response.find("trainctl_step{job=\"test-job\",rank=\"0\"} 7\n"), std::string::npos)
      << response;
  EXPECT_EQ(HttpGet((*collector)->http_port(), "/other").rfind("HTTP/1.1 404", 0), 0u);
}

TEST_F(CollectorTest, KillRuleSignalsTheWorkerOnceAtItsStep) {
  MetricsOptions options = Options();
  options.chaos = {{ChaosAction::kKill, 1, 5}};
  auto collector = MetricsCollector::Start(options, nullptr);
  ASSERT_TRUE(collector.ok()) << collector.status();
  const pid_t rank0 = StartChild(), rank1 = StartChild();
  (*collector)->RoundStarted(0, 0, 1, 2, 0, {{0, rank0}, {1, rank1}});
  Send((*collector)->socket_path(), Report(1, rank1, 4));
  Send((*collector)->socket_path(), Report(0, rank0, 5));  // another rank at the step
  (*collector)->Drain();
  EXPECT_EQ(waitpid(rank1, nullptr, WNOHANG), 0) << "killed before its step";
  Send((*collector)->socket_path(), Report(1, rank1, 5));
  (*collector)->Drain();
  int status = 0;
  ASSERT_EQ(waitpid(rank1, &status, 0), rank1);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(waitpid(rank0, nullptr, WNOHANG), 0) << "rank 0 must live";

  // The restarted rank 1 reaching step 5 again is left alone.
  (*collector)->RoundEnded(0, "restart");
  const pid_t again = StartChild();
  (*collector)->RoundStarted(1, 0, 1, 2, 1, {{0, rank0}, {1, again}});
  Send((*collector)->socket_path(), Report(1, again, 5));
  Send((*collector)->socket_path(), Report(1, again, 6));
  (*collector)->Drain();
  EXPECT_EQ(waitpid(again, nullptr, WNOHANG), 0);
  int chaos_events = 0;
  for (const json& line : Lines()) {
    if (line["type"] == "chaos") {
      ++chaos_events;
      EXPECT_EQ(line["action"], "kill");
      EXPECT_EQ(line["pid"], rank1);
    }
  }
  EXPECT_EQ(chaos_events, 1);
}

// The trainer's progress (the step alone) keeps each rank's latest step and fires chaos rules,
// but writes no metrics line and no sample; a stale worker's datagram counts for nothing.
TEST_F(CollectorTest, ProgressKeepsTheLatestStepAndFiresChaosWithoutAMetricsLine) {
  MetricsOptions options = Options();
  options.chaos = {{ChaosAction::kKill, 1, 7}};
  auto collector = MetricsCollector::Start(options, nullptr);
  ASSERT_TRUE(collector.ok()) << collector.status();
  const pid_t rank0 = StartChild(), rank1 = StartChild();
  (*collector)->RoundStarted(0, 0, 1, 2, 0, {{0, rank0}, {1, rank1}});
  EXPECT_EQ((*collector)->LatestStep(0), std::nullopt);
  auto progress = [](int rank, pid_t pid, std::int64_t step) {
    return json{{"v", 1},     {"t", 1000.0},  {"rank", rank},         {"pid", pid},
                {"run", "0"}, {"step", step}, {"progress_only", true}};
  };
  Send((*collector)->socket_path(), progress(0, rank0, 3));
  Send((*collector)->socket_path(), Report(0, rank0, 4));
  Send((*collector)->socket_path(), progress(0, 12345, 900));  // not this round's worker
  Send((*collector)->socket_path(), progress(1, rank1, 7));
  (*collector)->Drain();
  EXPECT_EQ((*collector)->LatestStep(0), 4);
  EXPECT_EQ((*collector)->LatestStep(1), 7);
  int status = 0;
  ASSERT_EQ(waitpid(rank1, &status, 0), rank1) << "the kill rule fires on progress too";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  int steps = 0;
  for (const json& line : Lines()) steps += line["type"] == "step" ? 1 : 0;
  EXPECT_EQ(steps, 1) << "only the step report is a metrics line";
  EXPECT_NE(
      (*collector)->Prometheus().find("trainctl_reports_total{job=\"test-job\",rank=\"0\"} 1"),
      std::string::npos)
      << (*collector)->Prometheus();

  // A new round starts from nothing.
  (*collector)->RoundStarted(1, 0, 1, 2, 1, {{0, rank0}, {1, StartChild()}});
  EXPECT_EQ((*collector)->LatestStep(0), std::nullopt);
}

TEST_F(CollectorTest, AFiredRuleIsSharedThroughTheStore) {
  MetricsOptions options = Options();
  options.chaos = {{ChaosAction::kStop, 0, 3}};
  // Another agent of the job (or this one before it restarted) fired the rule already.
  ASSERT_TRUE(store_->Set("chaos/fired/0", "stop:rank=0:step=3 pid 1").ok());
  auto collector = MetricsCollector::Start(options, nullptr);
  ASSERT_TRUE(collector.ok()) << collector.status();
  const pid_t rank0 = StartChild();
  (*collector)->RoundStarted(0, 0, 1, 1, 0, {{0, rank0}});
  Send((*collector)->socket_path(), Report(0, rank0, 3));
  (*collector)->Drain();
  EXPECT_FALSE(Stopped(rank0));
}

TEST_F(CollectorTest, StopRuleStopsAndKillAgentKillsTheAgent) {
  MetricsOptions options = Options();
  options.chaos = {{ChaosAction::kStop, 0, 2}, {ChaosAction::kKillAgent, 0, 4}};
  int agent_kills = 0;
  options.kill_agent = [&agent_kills] { ++agent_kills; };  // not the test runner itself
  auto collector = MetricsCollector::Start(options, nullptr);
  ASSERT_TRUE(collector.ok()) << collector.status();
  const pid_t rank0 = StartChild();
  (*collector)->RoundStarted(0, 0, 1, 1, 0, {{0, rank0}});
  Send((*collector)->socket_path(), Report(0, rank0, 2));
  (*collector)->Drain();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool stopped = false;
  while (!(stopped = Stopped(rank0)) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(stopped);
  ::kill(rank0, SIGCONT);
  Send((*collector)->socket_path(), Report(0, rank0, 4));
  Send((*collector)->socket_path(), Report(0, rank0, 5));
  (*collector)->Drain();
  EXPECT_EQ(agent_kills, 1);
}

TEST_F(CollectorTest, NeverSignalsAPidThatIsNotThisRoundsWorker) {
  MetricsOptions options = Options();
  options.chaos = {{ChaosAction::kKill, 0, 1}};
  auto collector = MetricsCollector::Start(options, nullptr);
  ASSERT_TRUE(collector.ok()) << collector.status();
  const pid_t worker = StartChild(), stranger = StartChild();
  (*collector)->RoundStarted(0, 0, 1, 1, 0, {{0, worker}});
  Send((*collector)->socket_path(), Report(0, stranger, 1));  // a stale or forged report
  (*collector)->Drain();
  EXPECT_EQ(waitpid(stranger, nullptr, WNOHANG), 0);
  EXPECT_EQ(waitpid(worker, nullptr, WNOHANG), 0);
}

}  // namespace
}  // namespace trainctl::agent
