// trainctl run and trainctl agent with their store in etcd (--rdzv-backend etcd): no process
// hosts a store, agents and workers talk to etcd, a job's keys live under /trainctl/<job>/ and
// are gone when it ends, and mistakes are named with their fix.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "etcd_cluster.h"
#include "launcher_harness.h"
#include "train/store.h"

namespace launcher_test {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// A job of `nodes` nodes running the test worker, its store in etcd.
std::string WriteEtcdJob(const ScratchDir& dir, const std::string& name, int nodes,
                         const std::string& rendezvous) {
  const std::string path = dir / (name + ".yaml");
  std::ofstream(path) << "apiVersion: trainctl.dev/v1alpha1\n"
                         "kind: TrainingJob\n"
                         "metadata: {name: "
                      << name << "}\n"
                      << "spec:\n"
                         "  command: [\""
                      << TestWorker() << "\", --sleep-ms, \"200\"]\n"
                      << "  procsPerNode: 2\n"
                         "  nodes: "
                      << nodes << "\n"
                      << "  failurePolicy: {maxRestarts: 0}\n"
                         "  rendezvous: {joinTimeout: 60s, lastCall: 300ms, "
                      << rendezvous << "}\n";
  return path;
}

std::vector<std::string> JobKeys(const etcd_test::EtcdCluster& cluster, const std::string& job) {
  train::EtcdOptions options;
  options.endpoints = cluster.endpoints();
  options.key_prefix = train::JobEtcdPrefix(job);
  auto store = train::ConnectEtcdStore(options);
  EXPECT_TRUE(store.ok()) << store.status();
  auto keys = (*store)->Keys("");
  EXPECT_TRUE(keys.ok()) << keys.status();
  return keys.ok() ? *keys : std::vector<std::string>{"<unreadable>"};
}

class EtcdLauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_ETCD();
    std::string error;
    cluster_ = etcd_test::EtcdCluster::Start({}, &error);
    ASSERT_NE(cluster_, nullptr) << error;
  }
  std::unique_ptr<etcd_test::EtcdCluster> cluster_;
  ScratchDir dir_;
};

TEST_F(EtcdLauncherTest, RunMeetsInEtcdTwiceInARowAndLeavesNoKeys) {
  const std::string job = WriteEtcdJob(dir_, "twice", 2, "heartbeat: 200ms, heartbeatTimeout: 5s");
  for (int attempt = 0; attempt < 2; ++attempt) {
    Process run({Trainctl(), "run", job, "--rdzv-backend", "etcd", "--store",
                 cluster_->endpoints_csv(), "--run-dir", dir_ / ("run-" + std::to_string(attempt))},
                dir_ / ("run-" + std::to_string(attempt) + ".out"));
    ASSERT_EQ(run.Wait(120s), 0) << run.Output();
    EXPECT_THAT(run.Output(), AllOf(HasSubstr("ready rank 3 of 4"), HasSubstr("succeeded"),
                                    Not(HasSubstr("hosts the store"))));
    EXPECT_THAT(JobKeys(*cluster_, "twice"), ElementsAre());
  }
}

TEST_F(EtcdLauncherTest, AgentsMeetWithoutAnyStoreHostAndTheLastOneOutClearsTheKeys) {
  const std::string job = WriteEtcdJob(dir_, "agents", 2, "heartbeat: 200ms, heartbeatTimeout: 5s");
  std::vector<std::unique_ptr<Process>> agents;
  for (int node = 0; node < 2; ++node) {
    // torchrun's spelling of the backend is accepted too.
    agents.push_back(std::make_unique<Process>(
        std::vector<std::string>{Trainctl(), "agent", job, "--rdzv-backend",
                                 node == 0 ? "etcd" : "etcd-v2", "--store",
                                 cluster_->endpoints_csv(), "--node-rank", std::to_string(node),
                                 "--run-dir", dir_ / ("agent-" + std::to_string(node))},
        dir_ / ("agent-" + std::to_string(node) + ".out")));
  }
  for (auto& agent : agents) ASSERT_EQ(agent->Wait(120s), 0) << agent->Output();
  EXPECT_THAT(agents[0]->Output(), HasSubstr("ready rank 0 of 4"));
  EXPECT_THAT(agents[1]->Output(), HasSubstr("ready rank 3 of 4"));
  EXPECT_THAT(JobKeys(*cluster_, "agents"), ElementsAre());
}

TEST_F(EtcdLauncherTest, AWrongPasswordStopsTheAgentNamingTheUser) {
  std::string error;
  ASSERT_TRUE(cluster_->EnableAuth("trainer", "right", "/trainctl/", &error)) << error;
  std::ofstream(dir_ / "password") << "wrong\n";
  const std::string job =
      WriteEtcdJob(dir_, "locked", 1,
                   "backend: etcd, endpoints: [\"" + cluster_->endpoint(0) +
                       "\"], auth: {username: trainer, passwordFile: " + (dir_ / "password") + "}");
  Process run({Trainctl(), "run", job, "--run-dir", dir_ / "run"}, dir_ / "run.out");
  ASSERT_EQ(run.Wait(60s), 1) << run.Output();
  EXPECT_THAT(run.Output(),
              AllOf(HasSubstr("refused user 'trainer'"), HasSubstr("invalid user ID or password")));

  std::ofstream(dir_ / "password") << "right\n";
  Process again({Trainctl(), "run", job, "--run-dir", dir_ / "again"}, dir_ / "again.out");
  ASSERT_EQ(again.Wait(120s), 0) << again.Output();
}

TEST_F(EtcdLauncherTest, MistakesAreNamedWithTheirFix) {
  const std::string job = WriteEtcdJob(dir_, "wrong", 1, "backend: etcd");
  Process no_endpoints({Trainctl(), "run", job}, dir_ / "a.out");
  EXPECT_EQ(no_endpoints.Wait(30s), 2);
  EXPECT_THAT(no_endpoints.Output(),
              HasSubstr("spec.rendezvous.endpoints: is required with backend etcd"));

  const std::string builtin = WriteEtcdJob(dir_, "builtin", 1, "heartbeat: 1s");
  Process bad_backend({Trainctl(), "run", builtin, "--rdzv-backend", "zookeeper"}, dir_ / "b.out");
  EXPECT_EQ(bad_backend.Wait(30s), 2);
  EXPECT_THAT(bad_backend.Output(), HasSubstr("--rdzv-backend \"zookeeper\" is not a rendezvous"));
  Process store_for_builtin({Trainctl(), "run", builtin, "--store", cluster_->endpoint(0)},
                            dir_ / "c.out");
  EXPECT_EQ(store_for_builtin.Wait(30s), 2);
  EXPECT_THAT(store_for_builtin.Output(), HasSubstr("drop --store"));

  Process hosting({Trainctl(), "agent", builtin, "--rdzv-backend", "etcd", "--store",
                   cluster_->endpoint(0), "--host-store"},
                  dir_ / "d.out");
  EXPECT_EQ(hosting.Wait(30s), 2);
  EXPECT_THAT(hosting.Output(), HasSubstr("the job's store is in etcd"));

  // torchrun's names for the built-in store run it as before.
  Process c10d({Trainctl(), "run", builtin, "--rdzv-backend", "c10d", "--run-dir", dir_ / "e"},
               dir_ / "e.out");
  EXPECT_EQ(c10d.Wait(60s), 0) << c10d.Output();
}

}  // namespace
}  // namespace launcher_test
