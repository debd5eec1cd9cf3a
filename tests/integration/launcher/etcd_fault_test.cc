// The store's engine survives losing the machine that leads it: a 2-node Fashion-MNIST job (two
// `trainctl agent` processes, their store a 3-member etcd cluster on loopback) whose etcd
// leader is SIGKILLed mid-training finishes without a restart (maxRestarts 0: any failure
// would end it), with parameters bitwise equal to those of a calm run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "etcd_cluster.h"
#include "fashion_mnist_harness.h"
#include "launcher_harness.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
namespace fm = fashion_mnist_test;
namespace lt = launcher_test;

constexpr int kSteps = 240;

// Four workers on two nodes; heartbeats tolerate an election (a few seconds at most).
std::string WriteJob(const lt::ScratchDir& dir, const std::string& name, const fm::Hdf5Data& data) {
  const std::string path = dir / (name + ".yaml");
  std::ofstream(path)
      << "apiVersion: trainctl.dev/v1alpha1\n"
         "kind: TrainingJob\n"
         "metadata: {name: "
      << name << "}\n"
      << "spec:\n"
         "  command: [\""
      << fm::kTrain << "\", --train-data, \"" << data.train << "\", --test-data, \"" << data.test
      << "\", --limit, \"8192\", --global-batch, \"64\", --steps, \"" << kSteps
      << "\", --log-every, \"20\"]\n"
         "  procsPerNode: 2\n"
         "  nodes: 2\n"
         "  env: [{name: OPENBLAS_NUM_THREADS, value: \"1\"}]\n"
         "  failurePolicy: {maxRestarts: 0}\n"
         "  collectives: {backend: cpu, timeout: 120s}\n"
         "  rendezvous: {joinTimeout: 120s, heartbeat: 1s, heartbeatTimeout: 20s}\n";
  return path;
}

// The two agents of one run, started at once.
std::vector<std::unique_ptr<lt::Process>> StartAgents(const lt::ScratchDir& dir,
                                                      const std::string& job,
                                                      const std::string& endpoints,
                                                      const std::string& name) {
  std::vector<std::unique_ptr<lt::Process>> agents;
  for (int node = 0; node < 2; ++node) {
    const std::string tag = name + "-" + std::to_string(node);
    agents.push_back(std::make_unique<lt::Process>(
        std::vector<std::string>{lt::Trainctl(), "agent", job, "--rdzv-backend", "etcd", "--store",
                                 endpoints, "--node-rank", std::to_string(node), "--run-dir",
                                 dir / tag},
        dir / (tag + ".out")));
  }
  return agents;
}

TEST(EtcdFaultTest, LeaderKilledMidTrainingTheJobFinishesUnrestartedWithTheCalmRunsParams) {
  SKIP_WITHOUT_ETCD();
  SKIP_WITHOUT_FASHION_MNIST(data);
  std::string error;
  etcd_test::ClusterOptions three;
  three.members = 3;
  auto cluster = etcd_test::EtcdCluster::Start(three, &error);
  ASSERT_NE(cluster, nullptr) << error;
  lt::ScratchDir dir;

  auto calm = StartAgents(dir, WriteJob(dir, "calm", *data), cluster->endpoints_csv(), "calm");
  for (auto& agent : calm) ASSERT_EQ(agent->Wait(600s), 0) << agent->Output();
  const std::string expected = fm::FinalValue(calm[0]->Output(), "params_sha256");
  ASSERT_EQ(expected.size(), 64u) << calm[0]->Output();

  auto agents = StartAgents(dir, WriteJob(dir, "fault", *data), cluster->endpoints_csv(), "fault");
  // Mid-training: a third of the steps done.
  ASSERT_TRUE(agents[0]->WaitForOutput("step 80/" + std::to_string(kSteps), 600s))
      << agents[0]->Output() << cluster->Logs();
  const int leader = cluster->Leader(30s);
  ASSERT_GE(leader, 0) << cluster->Logs();
  cluster->Kill(leader);
  const std::string before_kill = agents[0]->Output();
  ASSERT_THAT(before_kill, Not(HasSubstr("final params_sha256")));

  for (auto& agent : agents) ASSERT_EQ(agent->Wait(600s), 0) << agent->Output() << cluster->Logs();
  const int next = cluster->Leader(30s);
  EXPECT_GE(next, 0);
  EXPECT_NE(next, leader);
  for (auto& agent : agents) {
    EXPECT_THAT(agent->Output(), Not(HasSubstr("restarting"))) << agent->Output();
    EXPECT_THAT(agent->Output(), Not(HasSubstr("fenced"))) << agent->Output();
  }
  const std::string after = agents[0]->Output();
  EXPECT_THAT(after.substr(before_kill.size()),
              HasSubstr("step " + std::to_string(kSteps) + "/" + std::to_string(kSteps)));
  EXPECT_EQ(fm::FinalValue(after, "params_sha256"), expected) << after;
}

}  // namespace
