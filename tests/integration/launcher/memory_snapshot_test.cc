// In-memory peer snapshots end to end: a Fashion-MNIST job on two agents (two "nodes", each
// with its own snapshot directory in /dev/shm) snapshots every step and checkpoints to disk
// every 200 steps only. SIGKILL one node's agent (its workers and its snapshot directory go
// with it, as a node's memory would) and start a replacement: the job resumes from the
// snapshots at the last step rank 0 finished, or the one before, restoring the lost node's
// ranks from the other node's copies, and ends with the parameters of an uninterrupted run.
// SIGKILL of one worker alone: the same from the node's own snapshots.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fashion_mnist_harness.h"
#include "launcher_harness.h"

namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace fm = fashion_mnist_test;
namespace lt = launcher_test;
namespace fs = std::filesystem;

constexpr int kSteps = 160;

std::string WriteJob(const lt::ScratchDir& dir, const std::string& name, const fm::Hdf5Data& data,
                     bool memory) {
  const std::string path = dir / (name + ".yaml");
  std::ofstream(path)
      << "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: " << name
      << "}\nspec:\n  command: [\"" << fm::kTrain << "\", --train-data, \"" << data.train
      << "\", --test-data, \"" << data.test
      << "\", --limit, \"8192\", --global-batch, \"64\", --steps, \"" << kSteps
      << "\", --log-every, \"1\", --deterministic, \"true\"]\n"
         "  procsPerNode: 1\n  nodes: 2\n"
         "  env: [{name: OPENBLAS_NUM_THREADS, value: \"1\"}]\n"
         "  failurePolicy: {maxRestarts: 2, backoff: 100ms}\n"
         "  collectives: {backend: cpu, timeout: 60s}\n"
         "  checkpoint: {dir: \""
      << dir / (name + "-ckpt") << "\", everySteps: 200, keep: 2"
      << (memory ? ", memory: {everySteps: 1, replicas: 1}" : "") << "}\n"
      << "  rendezvous: {joinTimeout: 180s, heartbeat: 200ms, heartbeatTimeout: 2s}\n";
  return path;
}

std::vector<std::string> Agent(const std::string& job, int port, const std::string& token, int node,
                               const std::string& run_dir) {
  return lt::AgentArgs(job, port, token, node, run_dir, /*host_store=*/node == 0);
}

// The highest "step N/kSteps" rank 0 printed before round `round` formed.
int LastStepBeforeRound(const std::string& output, int round) {
  const std::string before =
      output.substr(0, output.find("trainctl: round " + std::to_string(round) + ":"));
  const std::regex step_line("step ([0-9]+)/" + std::to_string(kSteps));
  int last = 0;
  for (auto it = std::sregex_iterator(before.begin(), before.end(), step_line);
       it != std::sregex_iterator(); ++it) {
    last = std::max(last, std::stoi((*it)[1]));
  }
  return last;
}

// The steps rank 0 resumed at from memory, in order.
std::vector<int> ResumedFromMemory(const std::string& output) {
  const std::regex resumed("\\[rank 0\\].*resumed from memory:\\S+ \\(step ([0-9]+)\\)");
  std::vector<int> steps;
  for (auto it = std::sregex_iterator(output.begin(), output.end(), resumed);
       it != std::sregex_iterator(); ++it) {
    steps.push_back(std::stoi((*it)[1]));
  }
  return steps;
}

// The memory snapshot directories of the agent with pid `pid` (memory_dir.h's naming).
bool HasMemoryDir(pid_t pid) {
  const std::string prefix = "trainctl-" + std::to_string(pid) + "-memory-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev/shm", ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// The calm run's parameters (two agents, no fault, no snapshots), computed once.
std::string CalmParams(const fm::Hdf5Data& data) {
  static const std::string params = [&] {
    lt::ScratchDir dir;
    const std::string token = lt::WriteToken(dir, "token", "memory-calm-token-0123456789abcdef");
    const int port = lt::FreePort();
    const std::string job = WriteJob(dir, "calm", data, false);
    lt::Process a(Agent(job, port, token, 0, dir / "a"), dir / "a.out");
    lt::Process b(Agent(job, port, token, 1, dir / "b"), dir / "b.out");
    if (a.Wait(600s) != 0 || b.Wait(120s) != 0)
      return std::string("calm run failed: ") + a.Output();
    return fm::FinalValue(a.Output(), "params_sha256");
  }();
  return params;
}

// The fashion-mnist worker started by the agent with pid `agent`.
pid_t WorkerOf(pid_t agent) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const std::size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t parent = 0;
    rest >> state >> parent;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string argv0;
    std::getline(cmdline, argv0, '\0');
    if (parent == agent && argv0 == fm::kTrain) return std::stoi(name);
  }
  return -1;
}

// One run, two faults: a worker SIGKILLed at step 50 (its node's own snapshots serve), then a
// node's agent SIGKILLed at step 100 (the node's snapshots go with it; the other node's copies
// serve).
TEST(MemorySnapshots, AWorkerThenANodeKilledEachCostAtMostOneStepAndTheResultIsTheCalmRuns) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  const std::string expected = CalmParams(*data);
  ASSERT_EQ(expected.size(), 64u) << expected;

  lt::ScratchDir dir;
  const std::string token = lt::WriteToken(dir, "token", "memory-node-token-0123456789abcdef");
  const int port = lt::FreePort();
  const std::string job = WriteJob(dir, "faults", *data, true);
  lt::Process a(Agent(job, port, token, 0, dir / "a"), dir / "a.out");
  auto b = std::make_unique<lt::Process>(Agent(job, port, token, 1, dir / "b"), dir / "b.out");
  const std::string of_steps = "/" + std::to_string(kSteps);

  ASSERT_TRUE(a.WaitForOutput("step 50" + of_steps, 600s)) << a.Output();
  const pid_t worker = WorkerOf(b->pid());
  ASSERT_GT(worker, 0) << "no worker under agent " << b->pid();
  ASSERT_EQ(::kill(worker, SIGKILL), 0);

  ASSERT_TRUE(a.WaitForOutput("trainctl: round 1:", 120s)) << a.Output();
  ASSERT_TRUE(a.WaitForOutput("step 100" + of_steps, 600s)) << a.Output();
  const pid_t killed = b->pid();
  EXPECT_TRUE(HasMemoryDir(killed));
  b->Signal(SIGKILL);
  ASSERT_TRUE(b->Wait(10s).has_value());
  // The watchdog takes the node's snapshots with it: what node 1 held must come from node 0.
  for (int i = 0; i < 50 && HasMemoryDir(killed); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(HasMemoryDir(killed));
  lt::Process replacement(Agent(job, port, token, 1, dir / "b2"), dir / "b2.out");
  ASSERT_EQ(a.Wait(600s), 0) << a.Output();
  ASSERT_EQ(replacement.Wait(120s), 0) << replacement.Output();

  const std::string out = a.Output();
  const std::vector<int> resumed = ResumedFromMemory(out);
  ASSERT_EQ(resumed.size(), 2u) << out;
  for (int round = 1; round <= 2; ++round) {
    const int last = LastStepBeforeRound(out, round);
    EXPECT_GE(last, round * 50) << out;
    EXPECT_GE(resumed[round - 1], last - 1) << "round " << round << "\n" << out;
    EXPECT_LE(resumed[round - 1], last + 1) << "round " << round << "\n" << out;
  }
  EXPECT_THAT(out, HasSubstr("0 of 2 rank(s) restored from another node's copy"));
  EXPECT_THAT(out, HasSubstr("1 of 2 rank(s) restored from another node's copy"));
  EXPECT_EQ(fm::FinalValue(out, "params_sha256"), expected) << out;
  EXPECT_FALSE(HasMemoryDir(a.pid())) << "an agent removes its snapshots when it ends";
}

}  // namespace
