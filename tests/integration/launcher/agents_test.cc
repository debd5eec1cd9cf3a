// trainctl agent: several nodes as separate agent processes, with nodes and the store's host
// lost mid-job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "launcher_harness.h"

namespace launcher_test {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(Agents, ALostNodeLeavesTheOtherToFinishAloneWhenElastic) {
  ScratchDir dir;
  const int port = FreePort();
  const std::string token = WriteToken(dir, "token", "elastic-job-token-0123456789abcdef");
  const std::string job = WriteJob(dir, "elastic", {TestWorker(), "--sleep-ms", "1500"},
                                   "  nodes: {min: 1, max: 2}\n"
                                   "  failurePolicy: {maxRestarts: 3, backoff: 50ms}\n");
  Process a(AgentArgs(job, port, token, 0, dir / "a", true), dir / "a.out");
  Process b(AgentArgs(job, port, token, 1, dir / "b", false), dir / "b.out");
  ASSERT_TRUE(b.WaitForOutput("ready rank 1 of 2", 30s)) << a.Output() << b.Output();
  b.Signal(SIGKILL);
  ASSERT_EQ(a.Wait(60s), 0) << a.Output();
  EXPECT_THAT(a.Output(), HasSubstr("was lost: no heartbeat"));
  EXPECT_THAT(a.Output(), HasSubstr("ready rank 0 of 1"));
  EXPECT_THAT(a.Output(), HasSubstr("job elastic succeeded"));
}

TEST(Agents, TheStoreHostRestartsAndTheJobFinishes) {
  ScratchDir dir;
  const int port = FreePort();
  const std::string token = WriteToken(dir, "token", "restart-job-token-0123456789abcdef");
  const std::string job = WriteJob(dir, "store-restart", {TestWorker(), "--sleep-ms", "2000"},
                                   "  nodes: 2\n"
                                   "  failurePolicy: {maxRestarts: 3, backoff: 50ms}\n");
  auto a =
      std::make_unique<Process>(AgentArgs(job, port, token, 0, dir / "a", true), dir / "a.out");
  Process b(AgentArgs(job, port, token, 1, dir / "b", false), dir / "b.out");
  ASSERT_TRUE(b.WaitForOutput("ready rank 1 of 2 restart 0", 30s)) << a->Output() << b.Output();
  a->Signal(SIGKILL);  // the store's host goes away, its soft state with it
  ASSERT_TRUE(a->Wait(5s).has_value());
  ASSERT_TRUE(b.WaitForOutput("fenced", 10s)) << b.Output();
  Process a2(AgentArgs(job, port, token, 0, dir / "a2", true), dir / "a2.out");
  ASSERT_EQ(b.Wait(60s), 0) << b.Output() << a2.Output();
  ASSERT_EQ(a2.Wait(30s), 0) << a2.Output();
  EXPECT_THAT(b.Output(), HasSubstr("ready rank 1 of 2 restart 1"));
}

TEST(Agents, AnAgentStartedBeforeTheStoreWaitsForIt) {
  ScratchDir dir;
  const int port = FreePort();
  const std::string token = WriteToken(dir, "token", "order-job-token-0123456789abcdef");
  const std::string job = WriteJob(dir, "any-order", {TestWorker()}, "  nodes: 2\n");
  Process b(AgentArgs(job, port, token, 1, dir / "b", false), dir / "b.out");
  std::this_thread::sleep_for(1s);  // connections to the port are refused meanwhile
  EXPECT_FALSE(b.Wait(0ms).has_value()) << b.Output();
  Process a(AgentArgs(job, port, token, 0, dir / "a", true), dir / "a.out");
  EXPECT_EQ(a.Wait(30s), 0) << a.Output();
  EXPECT_EQ(b.Wait(30s), 0) << b.Output();
  EXPECT_THAT(b.Output(), HasSubstr("ready rank 1 of 2"));
}

TEST(Agents, AStoreThatNeverAppearsEndsTheJoinWithAClearError) {
  ScratchDir dir;
  const std::string token = WriteToken(dir, "token", "lonely-job-token-0123456789abcdef");
  const std::string job = WriteJob(dir, "lonely", {TestWorker()}, "");
  std::string yaml;
  {
    std::ifstream in(job);
    std::stringstream text;
    text << in.rdbuf();
    yaml = text.str();
  }
  const std::size_t at = yaml.find("joinTimeout: 30s");
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, 16, "joinTimeout: 2s");
  std::ofstream(job) << yaml;
  Process agent({Trainctl(), "agent", job, "--store", "no-such-host.invalid:29400", "--token-file",
                 token, "--run-dir", dir / "run"},
                dir / "out");
  ASSERT_EQ(agent.Wait(30s), 1) << agent.Output();
  EXPECT_THAT(agent.Output(), HasSubstr("no-such-host.invalid:29400"));
  EXPECT_THAT(agent.Output(), HasSubstr("join timeout"));
}

TEST(Agents, AWrongTokenIsRefused) {
  ScratchDir dir;
  const int port = FreePort();
  const std::string good = WriteToken(dir, "good", "the-right-token-0123456789abcdef");
  const std::string bad = WriteToken(dir, "bad", "a-wrong-token-0123456789abcdef00");
  const std::string job = WriteJob(dir, "tokens", {TestWorker()}, "  nodes: 2\n");
  Process a(AgentArgs(job, port, good, 0, dir / "a", true), dir / "a.out");
  Process b(AgentArgs(job, port, bad, 1, dir / "b", false), dir / "b.out");
  ASSERT_EQ(b.Wait(30s), 1) << b.Output();
  EXPECT_THAT(b.Output(), HasSubstr("token"));
  a.Signal(SIGTERM);
  EXPECT_TRUE(a.Wait(20s).has_value());
}

}  // namespace
}  // namespace launcher_test
