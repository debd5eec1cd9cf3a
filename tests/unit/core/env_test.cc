#include "train/env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "env_test_util.h"

namespace train {
namespace {

using ::testing::HasSubstr;
using testing_env::ExpectError;
using testing_env::MustRead;
using testing_env::Vars;

// ---- standalone ----

TEST(WorkerEnvTest, NoLauncherVariablesIsAStandaloneWorldOfOne) {
  WorkerEnv env = MustRead({{"HOME", "/root"}, {"TRAIN_LOG_LEVEL", "debug"}});
  EXPECT_EQ(env.launcher, Launcher::kStandalone);
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.num_nodes, 1);
  EXPECT_FALSE(env.store.has_value());
  EXPECT_EQ(env, WorkerEnv());
}

TEST(WorkerEnvTest, MasterAddressAloneDoesNotMakeATorchrunWorker) {
  // Cluster profiles often export MASTER_ADDR/MASTER_PORT for every shell.
  WorkerEnv env = MustRead({{"MASTER_ADDR", "head"}, {"MASTER_PORT", "29500"}});
  EXPECT_EQ(env.launcher, Launcher::kStandalone);
}

// ---- trainctl ----

Vars TrainctlVars() {
  return {{"TRAIN_RANK", "5"},
          {"TRAIN_WORLD_SIZE", "8"},
          {"TRAIN_LOCAL_RANK", "1"},
          {"TRAIN_LOCAL_WORLD_SIZE", "4"},
          {"TRAIN_NODE_RANK", "1"},
          {"TRAIN_NUM_NODES", "2"},
          {"TRAIN_STORE_ADDR", "node0:29400"},
          {"TRAIN_JOB_ID", "mnist"},
          {"TRAIN_RUN_ID", "r2"},
          {"TRAIN_RESTART_COUNT", "1"},
          {"TRAIN_TOKEN_FILE", "/run/train/token"},
          {"TRAIN_CHECKPOINT_DIR", "/ckpt/mnist"},
          {"TRAIN_CHECKPOINT_EVERY_STEPS", "500"},
          {"TRAIN_CHECKPOINT_KEEP", "2"},
          {"TRAIN_CHECKPOINT_ASYNC", "false"},
          {"TRAIN_CHECKPOINT_MEMORY_EVERY_STEPS", "2"},
          {"TRAIN_CHECKPOINT_MEMORY_REPLICAS", "0"},
          {"TRAIN_CHECKPOINT_MEMORY_DIR", "/dev/shm/trainctl-7-memory-0"},
          {"TRAIN_COLLECTIVE_BACKEND", "cpu"},
          {"TRAIN_COLLECTIVE_TIMEOUT_MS", "60000"}};
}

TEST(WorkerEnvTest, ReadsTheFullTrainctlContract) {
  WorkerEnv env = MustRead(TrainctlVars());
  EXPECT_EQ(env.launcher, Launcher::kTrainctl);
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.node_rank, 1);
  EXPECT_EQ(env.num_nodes, 2);
  EXPECT_EQ(env.store, (StoreAddress{"node0", 29400}));
  EXPECT_FALSE(env.hosts_store);
  EXPECT_EQ(env.job_id, "mnist");
  EXPECT_EQ(env.run_id, "r2");
  EXPECT_EQ(env.restart_count, 1);
  EXPECT_EQ(env.token_file, "/run/train/token");
  EXPECT_EQ(env.checkpoint_dir, "/ckpt/mnist");
  EXPECT_EQ(env.checkpoint_every_steps, 500);
  EXPECT_EQ(env.checkpoint_keep, 2);
  EXPECT_EQ(env.checkpoint_async, false);
  EXPECT_EQ(env.checkpoint_memory_every_steps, 2);
  EXPECT_EQ(env.checkpoint_memory_replicas, 0) << "an explicit 0 replicas is kept";
  EXPECT_EQ(env.checkpoint_memory_dir, "/dev/shm/trainctl-7-memory-0");
  EXPECT_EQ(env.collective_backend, "cpu");
  EXPECT_EQ(env.collective_timeout_ms, 60000);
  EXPECT_EQ(env.Describe(),
            "rank 5/8 (local 1/4, node 1/2) round r2 restart 1 via trainctl, store node0:29400");
}

TEST(WorkerEnvTest, TrainctlMinimalIsOneNode) {
  WorkerEnv env = MustRead(
      {{"TRAIN_RANK", "2"}, {"TRAIN_WORLD_SIZE", "4"}, {"TRAIN_STORE_ADDR", "127.0.0.1:5000"}});
  EXPECT_EQ(env.local_rank, 2);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.node_rank, 0);
  EXPECT_EQ(env.num_nodes, 1);
  EXPECT_EQ(env.restart_count, 0);
  EXPECT_EQ(env.job_id, "");
  EXPECT_EQ(env.Describe(),
            "rank 2/4 (local 2/4, node 0/1) restart 0 via trainctl, store "
            "127.0.0.1:5000");
}

TEST(WorkerEnvTest, TrainctlDerivesNodesFromEitherPerNodeSize) {
  WorkerEnv from_local = MustRead({{"TRAIN_RANK", "6"},
                                   {"TRAIN_WORLD_SIZE", "8"},
                                   {"TRAIN_LOCAL_WORLD_SIZE", "2"},
                                   {"TRAIN_STORE_ADDR", "h:1"}});
  EXPECT_EQ(from_local.num_nodes, 4);
  EXPECT_EQ(from_local.node_rank, 3);
  EXPECT_EQ(from_local.local_rank, 0);

  WorkerEnv from_nodes = MustRead({{"TRAIN_RANK", "6"},
                                   {"TRAIN_WORLD_SIZE", "8"},
                                   {"TRAIN_NUM_NODES", "2"},
                                   {"TRAIN_STORE_ADDR", "h:1"}});
  EXPECT_EQ(from_nodes.local_world_size, 4);
  EXPECT_EQ(from_nodes.node_rank, 1);
  EXPECT_EQ(from_nodes.local_rank, 2);
}

TEST(WorkerEnvTest, TrainctlWorldOfOneNeedsNoStore) {
  WorkerEnv env = MustRead({{"TRAIN_RANK", "0"}, {"TRAIN_WORLD_SIZE", "1"}});
  EXPECT_EQ(env.launcher, Launcher::kTrainctl);
  EXPECT_FALSE(env.store.has_value());
}

TEST(WorkerEnvTest, TrainctlWinsOverOpenMpi) {
  Vars vars = TrainctlVars();
  vars["OMPI_COMM_WORLD_RANK"] = "0";
  vars["OMPI_COMM_WORLD_SIZE"] = "2";
  EXPECT_EQ(MustRead(vars).launcher, Launcher::kTrainctl);
}

TEST(WorkerEnvTest, TrainctlAcceptsTorchNamesThatAgree) {
  Vars vars = TrainctlVars();
  vars["TRAIN_STORE_ADDR"] = "[fd00::1]:29400";
  vars.insert({{"RANK", "5"},
               {"WORLD_SIZE", "8"},
               {"LOCAL_RANK", "1"},
               {"LOCAL_WORLD_SIZE", "4"},
               {"GROUP_RANK", "1"},
               {"MASTER_ADDR", "fd00::1"},
               {"MASTER_PORT", "29400"},
               {"TORCHELASTIC_RESTART_COUNT", "1"},
               {"TORCHELASTIC_RUN_ID", "mnist"}});
  EXPECT_EQ(MustRead(vars).store, (StoreAddress{"fd00::1", 29400}));
}

TEST(WorkerEnvTest, AnyContractVariableSelectsTrainctlAndMissingOnesAreNamed) {
  ExpectError({{"TRAIN_JOB_ID", "mnist"}, {"RANK", "0"}, {"WORLD_SIZE", "1"}},
              {"TRAIN_RANK is not set", "trainctl", "detected from TRAIN_JOB_ID"});
  ExpectError({{"TRAIN_RANK", "0"}}, {"TRAIN_WORLD_SIZE is not set", "trainctl"});
  ExpectError({{"TRAIN_WORLD_SIZE", "2"}}, {"TRAIN_RANK is not set", "trainctl"});
  ExpectError({{"TRAIN_RANK", "0"}, {"TRAIN_WORLD_SIZE", "2"}},
              {"TRAIN_STORE_ADDR is not set", "TRAIN_WORLD_SIZE=\"2\"", "host:port"});
}

TEST(WorkerEnvTest, TrainctlRankOutOfRange) {
  Vars vars = TrainctlVars();
  vars["TRAIN_RANK"] = "8";
  ExpectError(vars, {"TRAIN_RANK=\"8\" is out of range: must be in [0, TRAIN_WORLD_SIZE=8)"});
  vars["TRAIN_RANK"] = "-1";
  ExpectError(vars, {"TRAIN_RANK=\"-1\" is out of range: must be in [0, TRAIN_WORLD_SIZE=8)"});
}

TEST(WorkerEnvTest, IntegersAreParsedStrictly) {
  for (const char* bad : {"abc", "+1", " 1", "1 ", "", "1.0", "0x1", "1e3", "--1"}) {
    Vars vars = TrainctlVars();
    vars["TRAIN_WORLD_SIZE"] = bad;
    ExpectError(vars, {"TRAIN_WORLD_SIZE=\"" + std::string(bad) + "\" is not an integer"});
  }
  Vars vars = TrainctlVars();
  vars["TRAIN_RESTART_COUNT"] = "99999999999";
  ExpectError(vars, {"TRAIN_RESTART_COUNT=\"99999999999\" is out of range: does not fit"});
}

TEST(WorkerEnvTest, LeadingZerosAreStillDecimal) {
  Vars vars = TrainctlVars();
  vars["TRAIN_RANK"] = "05";
  EXPECT_EQ(MustRead(vars).rank, 5);
}

TEST(WorkerEnvTest, TrainctlSizesMustBePositive) {
  Vars vars = TrainctlVars();
  vars["TRAIN_WORLD_SIZE"] = "0";
  ExpectError(vars, {"TRAIN_WORLD_SIZE=\"0\" is out of range: must be at least 1"});
  vars = TrainctlVars();
  vars["TRAIN_LOCAL_WORLD_SIZE"] = "16";
  ExpectError(
      vars, {"TRAIN_LOCAL_WORLD_SIZE=\"16\" is out of range: must be in [1, TRAIN_WORLD_SIZE=8]"});
  vars = TrainctlVars();
  vars["TRAIN_RESTART_COUNT"] = "-2";
  ExpectError(vars, {"TRAIN_RESTART_COUNT=\"-2\" is out of range: must be 0 or more"});
}

TEST(WorkerEnvTest, TrainctlLocalRankMustBeBelowLocalWorldSize) {
  Vars vars = TrainctlVars();
  vars["TRAIN_LOCAL_RANK"] = "4";
  ExpectError(vars, {"TRAIN_LOCAL_RANK=\"4\" is out of range: must be in [0, "
                     "TRAIN_LOCAL_WORLD_SIZE=4)"});
  // When the bound was derived, the error says so.
  ExpectError({{"TRAIN_RANK", "0"},
               {"TRAIN_WORLD_SIZE", "2"},
               {"TRAIN_LOCAL_RANK", "2"},
               {"TRAIN_STORE_ADDR", "h:1"}},
              {"TRAIN_LOCAL_RANK=\"2\"", "[0, TRAIN_LOCAL_WORLD_SIZE=2)",
               "TRAIN_LOCAL_WORLD_SIZE is unset"});
}

TEST(WorkerEnvTest, TrainctlNodeRankMustBeBelowNumNodes) {
  Vars vars = TrainctlVars();
  vars["TRAIN_NODE_RANK"] = "2";
  ExpectError(vars, {"TRAIN_NODE_RANK=\"2\" is out of range: must be in [0, TRAIN_NUM_NODES=2)"});
}

TEST(WorkerEnvTest, TrainctlWorldMustSplitEvenlyOverNodes) {
  ExpectError({{"TRAIN_RANK", "0"},
               {"TRAIN_WORLD_SIZE", "6"},
               {"TRAIN_LOCAL_WORLD_SIZE", "4"},
               {"TRAIN_STORE_ADDR", "h:1"}},
              {"TRAIN_WORLD_SIZE=\"6\" is not a multiple of TRAIN_LOCAL_WORLD_SIZE=\"4\""});
  ExpectError({{"TRAIN_RANK", "0"},
               {"TRAIN_WORLD_SIZE", "6"},
               {"TRAIN_NUM_NODES", "4"},
               {"TRAIN_STORE_ADDR", "h:1"}},
              {"TRAIN_WORLD_SIZE=\"6\" is not a multiple of TRAIN_NUM_NODES=\"4\""});
  Vars vars = TrainctlVars();
  vars["TRAIN_NUM_NODES"] = "3";
  ExpectError(vars, {"TRAIN_NUM_NODES=\"3\" times TRAIN_LOCAL_WORLD_SIZE=\"4\" is not "
                     "TRAIN_WORLD_SIZE=\"8\""});
}

TEST(WorkerEnvTest, TrainctlRankMustFollowNodeOrder) {
  Vars vars = TrainctlVars();
  vars["TRAIN_LOCAL_RANK"] = "2";
  ExpectError(vars, {"TRAIN_RANK=\"5\" does not match", "TRAIN_NODE_RANK=\"1\"",
                     "TRAIN_LOCAL_RANK=\"2\"", "= 6"});
}

TEST(WorkerEnvTest, TrainctlRejectsABadCollectiveBackendOrTimeout) {
  Vars vars = TrainctlVars();
  vars["TRAIN_COLLECTIVE_BACKEND"] = "gloo";
  ExpectError(vars, {"TRAIN_COLLECTIVE_BACKEND=\"gloo\" is not a backend: use auto, cpu, nccl "
                     "or mpi"});
  vars = TrainctlVars();
  vars["TRAIN_CHECKPOINT_ASYNC"] = "yes";
  ExpectError(vars, {"TRAIN_CHECKPOINT_ASYNC=\"yes\" is not a boolean: use true or false"});
  vars = TrainctlVars();
  vars["TRAIN_COLLECTIVE_TIMEOUT_MS"] = "-5";
  ExpectError(vars, {"TRAIN_COLLECTIVE_TIMEOUT_MS"});
}

TEST(WorkerEnvTest, TrainctlRejectsABadStoreAddress) {
  Vars vars = TrainctlVars();
  vars["TRAIN_STORE_ADDR"] = "node0:70000";
  ExpectError(vars, {"TRAIN_STORE_ADDR=\"node0:70000\"", "[1, 65535]"});
}

TEST(WorkerEnvTest, TorchNamesThatDisagreeWithTrainctlAreNamedBoth) {
  const std::vector<std::pair<Vars, std::vector<std::string>>> cases = {
      {{{"RANK", "2"}}, {"RANK=\"2\" disagrees with TRAIN_RANK=\"5\""}},
      {{{"WORLD_SIZE", "4"}}, {"WORLD_SIZE=\"4\" disagrees with TRAIN_WORLD_SIZE=\"8\""}},
      {{{"LOCAL_RANK", "0"}}, {"LOCAL_RANK=\"0\" disagrees with TRAIN_LOCAL_RANK=\"1\""}},
      {{{"GROUP_RANK", "0"}}, {"GROUP_RANK=\"0\" disagrees with TRAIN_NODE_RANK=\"1\""}},
      {{{"GROUP_WORLD_SIZE", "4"}}, {"GROUP_WORLD_SIZE=\"4\" disagrees with TRAIN_NUM_NODES"}},
      {{{"MASTER_ADDR", "node1"}, {"MASTER_PORT", "0"}}, {"MASTER_PORT=\"0\" is not a valid port"}},
      {{{"TORCHELASTIC_RESTART_COUNT", "0"}},
       {"TORCHELASTIC_RESTART_COUNT=\"0\" disagrees with TRAIN_RESTART_COUNT=\"1\""}},
      {{{"TORCHELASTIC_RUN_ID", "other"}},
       {"TORCHELASTIC_RUN_ID=\"other\" disagrees with TRAIN_JOB_ID=\"mnist\""}},
      {{{"RANK", "five"}}, {"RANK=\"five\" is not an integer"}},
  };
  for (const auto& [extra, fragments] : cases) {
    Vars vars = TrainctlVars();
    vars.insert(extra.begin(), extra.end());
    Result<WorkerEnv> env = WorkerEnv::FromVariables(vars);
    ASSERT_FALSE(env.ok()) << extra.begin()->first;
    for (const std::string& fragment : fragments) {
      EXPECT_THAT(env.status().message(), HasSubstr(fragment));
    }
  }
}

TEST(WorkerEnvTest, TrainctlMasterAddrAndPortAreTorchsRendezvousNotTheStore) {
  Vars vars = TrainctlVars();
  vars["MASTER_ADDR"] = "node0";
  vars["MASTER_PORT"] = "29501";
  WorkerEnv env = MustRead(vars);
  ASSERT_TRUE(env.torch_master.has_value());
  EXPECT_EQ(*env.torch_master, (StoreAddress{"node0", 29501}));
  EXPECT_EQ(env.store, (StoreAddress{"node0", 29400}));
  vars.erase("MASTER_ADDR");  // torch needs both: a lone one is not a rendezvous
  EXPECT_FALSE(MustRead(vars).torch_master.has_value());
}

TEST(WorkerEnvTest, DerivedTrainctlValuesAreComparedWithTorchNames) {
  ExpectError({{"TRAIN_RANK", "1"},
               {"TRAIN_WORLD_SIZE", "2"},
               {"TRAIN_STORE_ADDR", "h:1"},
               {"LOCAL_RANK", "0"}},
              {"LOCAL_RANK=\"0\" disagrees with TRAIN_LOCAL_RANK=1 (unset; derived)"});
}

// ---- round trip ----

TEST(WorkerEnvTest, ToVariablesSetsTheContractAndTheTorchNames) {
  WorkerEnv env = MustRead(TrainctlVars());
  Vars vars = env.ToVariables();
  for (const auto& [name, value] : TrainctlVars()) {
    EXPECT_EQ(vars[name], value) << name;
  }
  EXPECT_EQ(vars["RANK"], "5");
  EXPECT_EQ(vars["WORLD_SIZE"], "8");
  EXPECT_EQ(vars["LOCAL_RANK"], "1");
  EXPECT_EQ(vars["LOCAL_WORLD_SIZE"], "4");
  EXPECT_EQ(vars["GROUP_RANK"], "1");
  EXPECT_EQ(vars["GROUP_WORLD_SIZE"], "2");
  // MASTER_* are torch's env:// rendezvous, set only when the launcher chose one.
  EXPECT_EQ(vars.count("MASTER_ADDR"), 0u);
  EXPECT_EQ(vars.count("MASTER_PORT"), 0u);
  env.torch_master = StoreAddress{"node0", 29501};
  vars = env.ToVariables();
  EXPECT_EQ(vars["MASTER_ADDR"], "node0");
  EXPECT_EQ(vars["MASTER_PORT"], "29501");
  EXPECT_EQ(vars["TORCHELASTIC_RESTART_COUNT"], "1");
  EXPECT_EQ(vars["TORCHELASTIC_RUN_ID"], "mnist");
}

TEST(WorkerEnvTest, ToVariablesLeavesOutEmptyStringsAndAbsentStore) {
  Vars vars = WorkerEnv().ToVariables();
  EXPECT_EQ(vars.count("TRAIN_STORE_ADDR"), 0u);
  EXPECT_EQ(vars.count("MASTER_ADDR"), 0u);
  EXPECT_EQ(vars.count("TRAIN_JOB_ID"), 0u);
  EXPECT_EQ(vars.count("TRAIN_CHECKPOINT_DIR"), 0u);
  EXPECT_EQ(vars.at("TRAIN_RANK"), "0");
  EXPECT_EQ(vars.at("TRAIN_WORLD_SIZE"), "1");
}

TEST(WorkerEnvTest, EveryRankOfATwoNodeJobRoundTrips) {
  for (int rank = 0; rank < 8; ++rank) {
    WorkerEnv env;
    env.launcher = Launcher::kTrainctl;
    env.rank = rank;
    env.world_size = 8;
    env.local_rank = rank % 4;
    env.local_world_size = 4;
    env.node_rank = rank / 4;
    env.num_nodes = 2;
    env.store = StoreAddress{"::1", 29400};
    env.job_id = "j";
    env.run_id = "3";
    env.restart_count = 2;
    env.token_file = "/t";
    env.checkpoint_dir = "/c d";
    env.torch_master = StoreAddress{"::1", 29401};
    Vars vars = env.ToVariables();
    EXPECT_EQ(vars["TRAIN_STORE_ADDR"], "[::1]:29400");
    EXPECT_EQ(vars["MASTER_ADDR"], "::1");
    EXPECT_EQ(vars["MASTER_PORT"], "29401");
    Result<WorkerEnv> back = WorkerEnv::FromVariables(vars);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, env) << back->Describe();
  }
}

TEST(WorkerEnvTest, TorchrunAndStandaloneEnvironmentsRoundTripAsTrainctl) {
  WorkerEnv standalone;
  Result<WorkerEnv> back = WorkerEnv::FromVariables(standalone.ToVariables());
  ASSERT_TRUE(back.ok()) << back.status();
  standalone.launcher = Launcher::kTrainctl;
  EXPECT_EQ(*back, standalone);

  WorkerEnv torch = MustRead(
      {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "head"}, {"MASTER_PORT", "29500"}});
  ASSERT_TRUE(torch.hosts_store);
  back = WorkerEnv::FromVariables(torch.ToVariables());
  ASSERT_TRUE(back.ok()) << back.status();
  torch.launcher = Launcher::kTrainctl;
  torch.hosts_store = false;  // under trainctl the launcher serves the store
  EXPECT_EQ(*back, torch);
}

// ---- the process environment ----

// Clears every launcher variable for the test and puts the originals back afterwards.
class FromEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [name, value] : TrainctlVars()) Save(name);
    for (const char* name :
         {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
          "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_RUN_ID",
          "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
          "OMPI_COMM_WORLD_LOCAL_SIZE", "OMPI_MCA_orte_num_nodes"}) {
      Save(name);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value.has_value()) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }

 private:
  void Save(const std::string& name) {
    const char* value = getenv(name.c_str());
    saved_[name] = value == nullptr ? std::nullopt : std::optional<std::string>(value);
    unsetenv(name.c_str());
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST_F(FromEnvironmentTest, WithNothingSetIsStandalone) {
  Result<WorkerEnv> env = WorkerEnv::FromEnvironment();
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->launcher, Launcher::kStandalone);
}

TEST_F(FromEnvironmentTest, ReadsWhatALauncherSet) {
  WorkerEnv expected = MustRead(TrainctlVars());
  for (const auto& [name, value] : expected.ToVariables()) setenv(name.c_str(), value.c_str(), 1);
  Result<WorkerEnv> env = WorkerEnv::FromEnvironment();
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(*env, expected);
}

TEST_F(FromEnvironmentTest, ValuesWithEqualsSignsSurvive) {
  setenv("TRAIN_RANK", "0", 1);
  setenv("TRAIN_WORLD_SIZE", "1", 1);
  setenv("TRAIN_CHECKPOINT_DIR", "/ckpt/a=b", 1);
  Result<WorkerEnv> env = WorkerEnv::FromEnvironment();
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->checkpoint_dir, "/ckpt/a=b");
}

TEST_F(FromEnvironmentTest, ReportsABadValue) {
  setenv("RANK", "1", 1);
  setenv("WORLD_SIZE", "x", 1);
  Result<WorkerEnv> env = WorkerEnv::FromEnvironment();
  ASSERT_FALSE(env.ok());
  EXPECT_THAT(env.status().message(), HasSubstr("WORLD_SIZE=\"x\" is not an integer"));
}

}  // namespace
}  // namespace train
