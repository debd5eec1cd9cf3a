// trainctl run end to end with workers that report steps: /metrics scraped during the run,
// metrics.jsonl, --chaos kill and stop leading to exactly one restart, and trainctl report.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "launcher_harness.h"

namespace launcher_test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::vector<json> JsonLines(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(json::parse(line));
  return lines;
}

std::vector<json> OfType(const std::vector<json>& lines, const std::string& type) {
  std::vector<json> out;
  for (const json& j : lines) {
    if (j["type"] == type) out.push_back(j);
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// GET http://127.0.0.1:port/metrics over a plain socket, as a scraper does.
std::string Scrape(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
    send(fd, request.data(), request.size(), 0);
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
  }
  close(fd);
  return response;
}

std::vector<std::string> RunArgs(const ScratchDir& dir, const std::string& name, int steps,
                                 std::vector<std::string> extra) {
  const std::string job =
      WriteJob(dir, name, {TestWorker(), "--steps", std::to_string(steps), "--step-ms", "20"},
               "  failurePolicy: {maxRestarts: 2, backoff: 100ms}\n");
  std::vector<std::string> args = {Trainctl(), "run",       job,        "--nproc",
                                   "2",        "--run-dir", dir / "run"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(MetricsRunTest, ServesMetricsDuringTheRunAndWritesJsonLines) {
  ScratchDir dir;
  Process run(RunArgs(dir, "scrape", 150, {}), dir / "out.txt");
  // The port file appears once the agent serves /metrics.
  int port = 0;
  const auto until = std::chrono::steady_clock::now() + 20s;
  std::string metrics;
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream(dir / "run/metrics.port") >> port;
    if (port > 0) {
      metrics = Scrape(port);
      if (metrics.find("trainctl_step{job=\"scrape\",rank=\"1\"}") != std::string::npos) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT(port, 0) << run.Output();
  EXPECT_NE(metrics.find("HTTP/1.1 200 OK"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("# TYPE trainctl_step gauge"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("# HELP trainctl_samples_per_second "), std::string::npos);
  EXPECT_NE(metrics.find("trainctl_step{job=\"scrape\",rank=\"0\"}"), std::string::npos);
  EXPECT_NE(metrics.find("trainctl_restarts_total{job=\"scrape\"} 0"), std::string::npos);
  EXPECT_NE(metrics.find("trainctl_value{job=\"scrape\",rank=\"1\",name=\"test_accuracy\"}"),
            std::string::npos);
  EXPECT_NE(run.Output().find("/metrics"), std::string::npos);
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();

  auto lines = JsonLines(dir / "run/metrics.jsonl");
  auto steps = OfType(lines, "step");
  EXPECT_EQ(steps.size(), 300u);  // 150 steps x 2 ranks, none dropped on an idle machine
  ASSERT_EQ(OfType(lines, "job_end").size(), 1u);
  EXPECT_EQ(OfType(lines, "job_end")[0]["exit_code"], 0);
  EXPECT_EQ(OfType(lines, "round_start").size(), 1u);
  // The end-of-run summary: what the job held and what was lost.
  EXPECT_NE(run.Output().find("core-hours"), std::string::npos) << run.Output();
  EXPECT_NE(run.Output().find("lost "), std::string::npos) << run.Output();
}

TEST(MetricsRunTest, ChaosKillRestartsOnceAndTheJobCompletes) {
  ScratchDir dir;
  Process run(RunArgs(dir, "chaos-kill", 20, {"--chaos", "kill:rank=1:step=5"}), dir / "out.txt");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  auto lines = JsonLines(dir / "run/metrics.jsonl");
  auto chaos = OfType(lines, "chaos");
  ASSERT_EQ(chaos.size(), 1u) << run.Output();
  EXPECT_EQ(chaos[0]["action"], "kill");
  EXPECT_EQ(chaos[0]["rank"], 1);
  EXPECT_EQ(chaos[0]["step"], 5);
  auto ends = OfType(lines, "round_end");
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_EQ(ends[0]["outcome"], "restart");
  EXPECT_NE(ends[0]["reason"].get<std::string>().find("rank 1"), std::string::npos) << ends[0];
  EXPECT_EQ(ends[1]["outcome"], "succeeded");
  // The restarted rank 1 passed step 5 again and reached the end.
  int last_step_rank1 = 0;
  for (const json& s : OfType(lines, "step")) {
    if (s["rank"] == 1 && s["restart"] == 1) last_step_rank1 = s["step"];
  }
  EXPECT_EQ(last_step_rank1, 20);
  EXPECT_NE(run.Output().find("1 restart(s)"), std::string::npos) << run.Output();

  // The report of that run: the plots, the restart marked, and text escaped.
  const std::string html = dir / "report.html";
  Process report({Trainctl(), "report", dir / "run", "-o", html}, dir / "report.txt");
  ASSERT_EQ(report.Wait(30s), 0) << report.Output();
  const std::string page = ReadFile(html);
  EXPECT_NE(page.find("<svg id=\"loss\""), std::string::npos);
  EXPECT_NE(page.find("<svg id=\"samples-per-second\""), std::string::npos);
  EXPECT_NE(page.find("<svg id=\"accuracy-test_accuracy\""), std::string::npos);
  EXPECT_NE(page.find("class=\"restart\""), std::string::npos);
  EXPECT_NE(page.find("chaos: kill:rank=1:step=5"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"));
}

TEST(MetricsRunTest, ChaosStopIsCaughtAsAHangAndRestarted) {
  ScratchDir dir;
  Process run(RunArgs(dir, "chaos-stop", 20, {"--chaos", "stop:rank=0:step=3"}), dir / "out.txt");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  auto lines = JsonLines(dir / "run/metrics.jsonl");
  ASSERT_EQ(OfType(lines, "chaos").size(), 1u);
  EXPECT_EQ(OfType(lines, "chaos")[0]["action"], "stop");
  auto ends = OfType(lines, "round_end");
  ASSERT_GE(ends.size(), 2u);
  EXPECT_EQ(ends[0]["outcome"], "restart");
  EXPECT_NE(ends[0]["reason"].get<std::string>().find("heartbeat"), std::string::npos) << ends[0];
}

TEST(MetricsRunTest, ChaosKillAgentLosesANodeAndTheElasticJobStillSucceeds) {
  ScratchDir dir;
  // Two nodes of one worker: rank 1 runs on node 1, whose agent process is killed.
  std::vector<std::string> args = RunArgs(dir, "chaos-agent", 20, {});
  args[4] = "1";  // --nproc
  args.insert(args.end(),
              {"--nnodes", "1:2", "--local-nodes", "2", "--chaos", "kill-agent:rank=1:step=5"});
  Process run(args, dir / "out.txt");
  // The lost agent exits 137, but the job (finished by node 0 alone) succeeded.
  ASSERT_EQ(run.Wait(90s), 0) << run.Output();
  auto lines = JsonLines(dir / "run/metrics.jsonl");
  auto chaos = OfType(lines, "chaos");
  ASSERT_EQ(chaos.size(), 1u) << run.Output();
  EXPECT_EQ(chaos[0]["action"], "kill-agent");
}

TEST(MetricsRunTest, ABadChaosValueIsAUsageErrorNamingThePart) {
  ScratchDir dir;
  Process run(RunArgs(dir, "bad", 5, {"--chaos", "kill:rank=1:stp=5"}), dir / "out.txt");
  EXPECT_EQ(run.Wait(30s), 2);
  EXPECT_NE(run.Output().find("the part \"stp=5\" is not rank=R or step=S"), std::string::npos)
      << run.Output();
  Process too_big(RunArgs(dir, "bad2", 5, {"--chaos", "kill:rank=2:step=5"}), dir / "out2.txt");
  EXPECT_EQ(too_big.Wait(30s), 2);
  EXPECT_NE(too_big.Output().find("rank 2 does not exist"), std::string::npos) << too_big.Output();
}

}  // namespace
}  // namespace launcher_test
