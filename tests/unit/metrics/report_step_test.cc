// train::ReportStep end to end: a forked worker process with TRAIN_METRICS_SOCKET set sends its
// reports to a real Unix datagram socket held by the test, which plays the agent.
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "train/communicator.h"
#include "train/metrics.h"
#include "train/worker.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The agent's end: a bound datagram socket in a scratch directory.
class FakeAgentSocket {
 public:
  FakeAgentSocket() {
    dir_ = fs::temp_directory_path() /
           ("metrics-test-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    path_ = (dir_ / "m.sock").string();
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
        << std::strerror(errno);
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~FakeAgentSocket() {
    close(fd_);
    fs::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

  // The next datagram, parsed; nullopt after 5 s without one.
  std::optional<json> Receive() {
    char buffer[65536];
    ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) return std::nullopt;
    return json::parse(std::string(buffer, static_cast<std::size_t>(n)));
  }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  std::string path_;
  int fd_ = -1;
};

// Runs `body` in a child process whose environment holds `vars` before its first report (the
// reporter reads the environment once); returns the child's exit code.
int InChild(const std::vector<std::pair<std::string, std::string>>& vars,
            const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [name, value] : vars) setenv(name.c_str(), value.c_str(), 1);
    std::_Exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

train::StepReport Report(std::int64_t step) {
  train::StepReport report;
  report.step = step;
  report.epoch = 2;
  report.loss = 0.25;
  report.samples = 64;
  report.values = {{"test_accuracy", 0.875}, {"lr", 0.001}};
  return report;
}

TEST(ReportStepTest, SendsTheReportWithTheWorkersIdentity) {
  FakeAgentSocket agent;
  int code = InChild({{"TRAIN_METRICS_SOCKET", agent.path()},
                      {"TRAIN_RANK", "3"},
                      {"TRAIN_WORLD_SIZE", "4"},
                      {"TRAIN_LOCAL_RANK", "1"},
                      {"TRAIN_LOCAL_WORLD_SIZE", "2"},
                      {"TRAIN_NODE_RANK", "1"},
                      {"TRAIN_NUM_NODES", "2"},
                      {"TRAIN_STORE_ADDR", "127.0.0.1:29400"},
                      {"TRAIN_JOB_ID", "metrics-test"},
                      {"TRAIN_RUN_ID", "7"},
                      {"TRAIN_RESTART_COUNT", "2"}},
                     [] {
                       if (!train::ReportStep(Report(5)).ok()) return 1;
                       return train::ReportStep(Report(6)).ok() ? 0 : 2;
                     });
  ASSERT_EQ(code, 0);
  auto first = agent.Receive();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)["rank"], 3);
  EXPECT_EQ((*first)["run"], "7");
  EXPECT_EQ((*first)["restart"], 2);
  EXPECT_EQ((*first)["step"], 5);
  EXPECT_EQ((*first)["epoch"], 2);
  EXPECT_DOUBLE_EQ((*first)["loss"].get<double>(), 0.25);
  EXPECT_EQ((*first)["samples"], 64);
  EXPECT_DOUBLE_EQ((*first)["values"]["test_accuracy"].get<double>(), 0.875);
  EXPECT_GT((*first)["pid"].get<int>(), 0);
  EXPECT_GT((*first)["t"].get<double>(), 1.6e9);
  auto second = agent.Receive();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ((*second)["step"], 6);
}

// Worker::ReportProgress (the trainer's, after every step): the step alone, on the same socket.
TEST(ReportStepTest, ProgressSendsTheStepAlone) {
  FakeAgentSocket agent;
  const int code = InChild({{"TRAIN_METRICS_SOCKET", agent.path()},
                            {"TRAIN_RANK", "0"},
                            {"TRAIN_WORLD_SIZE", "1"},
                            {"TRAIN_JOB_ID", "metrics-test"},
                            {"TRAIN_RUN_ID", "3"}},
                           [] {
                             auto worker = train::Worker::Init();
                             if (!worker.ok()) return 1;
                             return (*worker)->ReportProgress(41).ok() ? 0 : 2;
                           });
  ASSERT_EQ(code, 0);
  auto got = agent.Receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ((*got)["step"], 41);
  EXPECT_EQ((*got)["rank"], 0);
  EXPECT_EQ((*got)["run"], "3");
  EXPECT_EQ((*got)["progress_only"], true);
  EXPECT_FALSE(got->contains("loss"));
  EXPECT_FALSE(got->contains("samples"));
}

TEST(ReportStepTest, CarriesTheAllReduceCounters) {
  FakeAgentSocket agent;
  int code = InChild({{"TRAIN_METRICS_SOCKET", agent.path()}}, [] {
    auto comm = train::Communicator::Create(nullptr, 0, 1, {});
    if (!comm.ok()) return 1;
    std::vector<float> grads(1000, 1.0f);
    train::TensorView view{grads.data(), train::DType::kFloat32, grads.size()};
    for (int i = 0; i < 3; ++i) {
      if (!(*comm)->AllReduce(view, train::ReduceOp::kSum)->Wait().ok()) return 2;
    }
    return train::ReportStep(Report(1)).ok() ? 0 : 3;
  });
  ASSERT_EQ(code, 0);
  auto report = agent.Receive();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ((*report)["allreduce_ops"], 3);
  EXPECT_EQ((*report)["allreduce_bytes"], 3 * 1000 * 4);
  EXPECT_GE((*report)["allreduce_seconds"].get<double>(), 0.0);
  EXPECT_EQ((*report)["checkpoint_saves"], 0);
}

TEST(ReportStepTest, ANonFiniteLossTravelsAsNull) {
  FakeAgentSocket agent;
  int code = InChild({{"TRAIN_METRICS_SOCKET", agent.path()}}, [] {
    train::StepReport report = Report(1);
    report.loss = std::nan("");
    return train::ReportStep(report).ok() ? 0 : 1;
  });
  ASSERT_EQ(code, 0);
  auto report = agent.Receive();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE((*report)["loss"].is_null());
}

TEST(ReportStepTest, IsAnOkNoOpWithoutAnAgent) {
  // No TRAIN_METRICS_SOCKET at all, and one naming a socket nobody listens on.
  EXPECT_EQ(InChild({}, [] { return train::ReportStep(Report(1)).ok() ? 0 : 1; }), 0);
  EXPECT_EQ(InChild({{"TRAIN_METRICS_SOCKET", "/nonexistent/agent.sock"}},
                    [] {
                      for (int i = 0; i < 1000; ++i) {
                        if (!train::ReportStep(Report(i)).ok()) return 1;
                      }
                      return 0;
                    }),
            0);
}

TEST(ReportStepTest, NeverBlocksWhenTheAgentStopsReading) {
  FakeAgentSocket agent;  // never read until the child is done: its queue fills up
  EXPECT_EQ(InChild({{"TRAIN_METRICS_SOCKET", agent.path()}},
                    [] {
                      for (int i = 0; i < 5000; ++i) {
                        if (!train::ReportStep(Report(i)).ok()) return 1;
                      }
                      return 0;
                    }),
            0);
  auto first = agent.Receive();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)["step"], 0);
}

TEST(ReportStepTest, RejectsABadReportNamingTheField) {
  train::StepReport report = Report(1);
  report.step = -1;
  train::Status status = train::ReportStep(report);
  EXPECT_EQ(status.code(), train::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("StepReport.step"), std::string::npos) << status;

  report = Report(1);
  report.samples = -5;
  status = train::ReportStep(report);
  EXPECT_NE(status.message().find("StepReport.samples"), std::string::npos) << status;

  report = Report(1);
  report.values.push_back({"", 1.0});
  status = train::ReportStep(report);
  EXPECT_NE(status.message().find("values[2]"), std::string::npos) << status;

  report = Report(1);
  for (int i = 0; i < 5000; ++i) report.values.push_back({"value_" + std::to_string(i), i});
  status = train::ReportStep(report);
  EXPECT_NE(status.message().find("fewer values"), std::string::npos) << status;
}

}  // namespace
