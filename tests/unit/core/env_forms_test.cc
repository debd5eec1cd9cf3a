// The torchrun and Open MPI forms of the worker environment, and StoreAddress.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "env_test_util.h"
#include "train/env.h"

namespace train {
namespace {

using ::testing::HasSubstr;
using testing_env::ExpectError;
using testing_env::MustRead;
using testing_env::Vars;

// ---- torchrun ----

Vars TorchrunVars(int rank) {
  return {{"RANK", std::to_string(rank)},
          {"WORLD_SIZE", "4"},
          {"LOCAL_RANK", std::to_string(rank % 2)},
          {"LOCAL_WORLD_SIZE", "2"},
          {"GROUP_RANK", std::to_string(rank / 2)},
          {"MASTER_ADDR", "10.0.0.1"},
          {"MASTER_PORT", "29500"},
          {"TORCHELASTIC_RESTART_COUNT", "3"},
          {"TORCHELASTIC_RUN_ID", "bert"}};
}

TEST(WorkerEnvTest, ReadsTorchrun) {
  WorkerEnv env = MustRead(TorchrunVars(3));
  EXPECT_EQ(env.launcher, Launcher::kTorchrun);
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.node_rank, 1);
  EXPECT_EQ(env.num_nodes, 2);  // derived: 4 / 2
  EXPECT_EQ(env.store, (StoreAddress{"10.0.0.1", 29500}));
  EXPECT_FALSE(env.hosts_store);
  EXPECT_EQ(env.restart_count, 3);
  EXPECT_EQ(env.job_id, "bert");
  EXPECT_EQ(env.run_id, "");
  EXPECT_EQ(env.Describe(),
            "rank 3/4 (local 1/2, node 1/2) restart 3 via torchrun, store "
            "10.0.0.1:29500");
}

TEST(WorkerEnvTest, TorchrunRankZeroHostsTheStore) {
  WorkerEnv env = MustRead(TorchrunVars(0));
  EXPECT_TRUE(env.hosts_store);
  EXPECT_THAT(env.Describe(), HasSubstr("store 10.0.0.1:29500 (served by this rank)"));
}

TEST(WorkerEnvTest, TorchrunWinsOverOpenMpi) {
  Vars vars = TorchrunVars(1);
  vars["OMPI_COMM_WORLD_RANK"] = "3";
  vars["OMPI_COMM_WORLD_SIZE"] = "4";
  EXPECT_EQ(MustRead(vars).launcher, Launcher::kTorchrun);
}

TEST(WorkerEnvTest, TorchrunWithOnlyRankAndWorldIsOneWorkerPerNode) {
  // What a PyTorchJob pod without torchrun sees.
  WorkerEnv env = MustRead({{"RANK", "2"},
                            {"WORLD_SIZE", "3"},
                            {"MASTER_ADDR", "job-master-0"},
                            {"MASTER_PORT", "23456"}});
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_EQ(env.local_world_size, 1);
  EXPECT_EQ(env.node_rank, 2);
  EXPECT_EQ(env.num_nodes, 3);
}

TEST(WorkerEnvTest, TorchrunGroupWorldSizeAllowsUnevenNodes) {
  WorkerEnv env = MustRead({{"RANK", "2"},
                            {"WORLD_SIZE", "3"},
                            {"LOCAL_RANK", "0"},
                            {"LOCAL_WORLD_SIZE", "1"},
                            {"GROUP_RANK", "1"},
                            {"GROUP_WORLD_SIZE", "2"},
                            {"MASTER_ADDR", "h"},
                            {"MASTER_PORT", "1"}});
  EXPECT_EQ(env.num_nodes, 2);
  EXPECT_EQ(env.node_rank, 1);
}

TEST(WorkerEnvTest, TorchrunWorldOfOneNeedsNoMaster) {
  WorkerEnv env = MustRead({{"RANK", "0"}, {"WORLD_SIZE", "1"}});
  EXPECT_EQ(env.launcher, Launcher::kTorchrun);
  EXPECT_FALSE(env.store.has_value());
  EXPECT_FALSE(env.hosts_store);
}

TEST(WorkerEnvTest, TorchrunIpv6MasterAddress) {
  Vars vars = TorchrunVars(0);
  vars["MASTER_ADDR"] = "::1";
  EXPECT_EQ(MustRead(vars).store->ToString(), "[::1]:29500");
  vars["MASTER_ADDR"] = "[::1]";
  EXPECT_EQ(MustRead(vars).store, (StoreAddress{"::1", 29500}));
}

TEST(WorkerEnvTest, TorchrunErrorsNameTheVariable) {
  Vars vars = TorchrunVars(1);
  vars.erase("MASTER_ADDR");
  ExpectError(vars, {"MASTER_ADDR is not set", "torchrun", "WORLD_SIZE=\"4\""});
  vars = TorchrunVars(1);
  vars.erase("MASTER_PORT");
  ExpectError(vars, {"MASTER_PORT is not set", "torchrun"});
  for (const char* port : {"0", "65536", "http", "-1"}) {
    vars = TorchrunVars(1);
    vars["MASTER_PORT"] = port;
    ExpectError(vars, {"MASTER_PORT=\"" + std::string(port) + "\"", "[1, 65535]"});
  }
  vars = TorchrunVars(1);
  vars["MASTER_ADDR"] = "";
  ExpectError(vars, {"MASTER_ADDR=\"\" has an empty host"});
  vars = TorchrunVars(1);
  vars["RANK"] = "4";
  ExpectError(vars, {"RANK=\"4\" is out of range: must be in [0, WORLD_SIZE=4)"});
  vars = TorchrunVars(1);
  vars["LOCAL_RANK"] = "2";
  ExpectError(vars, {"LOCAL_RANK=\"2\" is out of range: must be in [0, LOCAL_WORLD_SIZE=2)"});
  vars = TorchrunVars(1);
  vars["TORCHELASTIC_RESTART_COUNT"] = "-1";
  ExpectError(vars, {"TORCHELASTIC_RESTART_COUNT=\"-1\"", "0 or more"});
}

TEST(WorkerEnvTest, TorchrunWorldNotDivisibleSaysToSetGroupWorldSize) {
  Vars vars = TorchrunVars(1);
  vars["WORLD_SIZE"] = "5";
  ExpectError(vars,
              {"WORLD_SIZE=\"5\" is not a multiple of LOCAL_WORLD_SIZE=\"2\"", "GROUP_WORLD_SIZE"});
}

TEST(WorkerEnvTest, HalfSetTorchEnvironmentIsAnError) {
  ExpectError({{"LOCAL_RANK", "1"}}, {"RANK is not set", "torchrun", "detected from LOCAL_RANK"});
  ExpectError({{"RANK", "1"}}, {"WORLD_SIZE is not set", "torchrun"});
}

// ---- Open MPI ----

Vars OmpiVars(int rank, int size, int local_rank, int local_size) {
  return {{"OMPI_COMM_WORLD_RANK", std::to_string(rank)},
          {"OMPI_COMM_WORLD_SIZE", std::to_string(size)},
          {"OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(local_rank)},
          {"OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(local_size)},
          // The rank among processes on this node, not a node index.
          {"OMPI_COMM_WORLD_NODE_RANK", std::to_string(local_rank)}};
}

TEST(WorkerEnvTest, ReadsOpenMpiOnOneNode) {
  Vars vars = OmpiVars(3, 4, 3, 4);
  vars["OMPI_MCA_orte_num_nodes"] = "1";
  WorkerEnv env = MustRead(vars);
  EXPECT_EQ(env.launcher, Launcher::kOpenMpi);
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 3);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.node_rank, 0);
  EXPECT_EQ(env.num_nodes, 1);
  EXPECT_FALSE(env.store.has_value());
  EXPECT_FALSE(env.hosts_store);
  EXPECT_EQ(env.Describe(), "rank 3/4 (local 3/4, node 0/1) restart 0 via openmpi");
}

TEST(WorkerEnvTest, OpenMpiDerivesTheNodeForBySlotAndByNodePlacement) {
  WorkerEnv by_slot = MustRead(OmpiVars(5, 8, 1, 4));
  EXPECT_EQ(by_slot.node_rank, 1);
  EXPECT_EQ(by_slot.num_nodes, 2);
  // --map-by node: rank 4 is the third process on node 0.
  WorkerEnv by_node = MustRead(OmpiVars(4, 8, 2, 4));
  EXPECT_EQ(by_node.node_rank, 0);
  EXPECT_EQ(by_node.num_nodes, 2);
}

TEST(WorkerEnvTest, OpenMpiErrorsNameTheVariable) {
  ExpectError(OmpiVars(4, 4, 0, 4), {"OMPI_COMM_WORLD_RANK=\"4\" is out of range: must be in [0, "
                                     "OMPI_COMM_WORLD_SIZE=4)"});
  ExpectError(OmpiVars(1, 4, 4, 4), {"OMPI_COMM_WORLD_LOCAL_RANK=\"4\" is out of range"});
  ExpectError(OmpiVars(1, 4, 1, 5),
              {"OMPI_COMM_WORLD_LOCAL_SIZE=\"5\" is out of range: must be in [1, "
               "OMPI_COMM_WORLD_SIZE=4]"});
  ExpectError({{"OMPI_COMM_WORLD_RANK", "0"}}, {"OMPI_COMM_WORLD_SIZE is not set", "Open MPI",
                                                "detected from OMPI_COMM_WORLD_RANK"});
  Vars vars = OmpiVars(0, 2, 0, 2);
  vars["OMPI_COMM_WORLD_SIZE"] = "two";
  ExpectError(vars, {"OMPI_COMM_WORLD_SIZE=\"two\" is not an integer"});
}

// ---- StoreAddress and names ----

TEST(StoreAddressTest, ParsesHostPortAndBracketedIpv6) {
  Result<StoreAddress> addr = StoreAddress::Parse("node0.cluster.local:29400", "X");
  ASSERT_TRUE(addr.ok()) << addr.status();
  EXPECT_EQ(*addr, (StoreAddress{"node0.cluster.local", 29400}));
  EXPECT_EQ(addr->ToString(), "node0.cluster.local:29400");

  addr = StoreAddress::Parse("[::1]:29400", "X");
  ASSERT_TRUE(addr.ok()) << addr.status();
  EXPECT_EQ(*addr, (StoreAddress{"::1", 29400}));
  EXPECT_EQ(addr->ToString(), "[::1]:29400");

  EXPECT_EQ(StoreAddress::Parse("10.0.0.1:1", "X")->port, 1);
  EXPECT_EQ(StoreAddress::Parse("10.0.0.1:65535", "X")->port, 65535);
}

TEST(StoreAddressTest, ErrorsNameTheVariableTheValueAndTheForm) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no port"},
      {"node0", "no port"},
      {"node0:", "invalid port \"\""},
      {":29400", "no host"},
      {"node0:0", "[1, 65535]"},
      {"node0:65536", "[1, 65535]"},
      {"node0:+80", "invalid port \"+80\""},
      {"node0:80 ", "invalid port \"80 \""},
      {"::1:29400", "IPv6 address without brackets"},
      {"[::1]29400", "no port after ']'"},
      {"[::1", "no closing ']'"},
      {"[]:80", "no host"},
      {"node 0:80", "invalid host \"node 0\""},
      {"http://node0:80", "is a URL: expected host:port"},
  };
  for (const auto& [text, why] : cases) {
    Result<StoreAddress> addr = StoreAddress::Parse(text, "TRAIN_STORE_ADDR");
    ASSERT_FALSE(addr.ok()) << text;
    EXPECT_EQ(addr.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(addr.status().message(), HasSubstr("TRAIN_STORE_ADDR=\"" + text + "\""));
    EXPECT_THAT(addr.status().message(), HasSubstr(why)) << text;
  }
}

TEST(LauncherNameTest, NamesEveryLauncher) {
  EXPECT_EQ(LauncherName(Launcher::kStandalone), "standalone");
  EXPECT_EQ(LauncherName(Launcher::kTrainctl), "trainctl");
  EXPECT_EQ(LauncherName(Launcher::kTorchrun), "torchrun");
  EXPECT_EQ(LauncherName(Launcher::kOpenMpi), "openmpi");
}

}  // namespace
}  // namespace train
