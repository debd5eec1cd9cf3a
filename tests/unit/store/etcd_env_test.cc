// How a worker learns that its job's store is in etcd: TRAIN_STORE_BACKEND, TRAIN_STORE_ENDPOINTS
// and TRAIN_ETCD_* in WorkerEnv, both ways.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "train/env.h"

namespace train {
namespace {

using ::testing::HasSubstr;
using Vars = std::map<std::string, std::string>;

Vars TwoRanks(Vars extra) {
  Vars vars = {{"TRAIN_RANK", "1"}, {"TRAIN_WORLD_SIZE", "2"}, {"TRAIN_JOB_ID", "mnist"}};
  vars.insert(extra.begin(), extra.end());
  return vars;
}

std::string ErrorOf(const Vars& vars) {
  Result<WorkerEnv> env = WorkerEnv::FromVariables(vars);
  EXPECT_FALSE(env.ok());
  return env.ok() ? "" : env.status().message();
}

TEST(EtcdEnvTest, AnEtcdBackendNamesItsMembersAndItsFirstIsTheStoreAddress) {
  Result<WorkerEnv> env = WorkerEnv::FromVariables(
      TwoRanks({{"TRAIN_STORE_BACKEND", "etcd"},
                {"TRAIN_STORE_ENDPOINTS", "https://etcd-0:2379,etcd-1:2379"},
                {"TRAIN_ETCD_USER", "trainer"},
                {"TRAIN_ETCD_PASSWORD_FILE", "/etc/train/etcd-password"},
                {"TRAIN_ETCD_CA_FILE", "/etc/train/ca.pem"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  ASSERT_TRUE(env->etcd.has_value());
  EXPECT_THAT(env->etcd->endpoints, ::testing::ElementsAre("https://etcd-0:2379", "etcd-1:2379"));
  EXPECT_EQ(env->etcd->username, "trainer");
  EXPECT_EQ(env->etcd->ca_file, "/etc/train/ca.pem");
  EXPECT_EQ(env->store, (StoreAddress{"etcd-0", 2379}));
  EXPECT_THAT(env->Describe(), HasSubstr("store etcd https://etcd-0:2379,etcd-1:2379"));
  // And back: what a launcher sets reads as the same worker.
  Vars vars = env->ToVariables();
  EXPECT_EQ(vars.count("TRAIN_STORE_ADDR"), 0u);
  EXPECT_EQ(vars["TRAIN_STORE_ENDPOINTS"], "https://etcd-0:2379,etcd-1:2379");
  Result<WorkerEnv> again = WorkerEnv::FromVariables(vars);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *env);
}

TEST(EtcdEnvTest, TheBuiltinStoreIsTheDefaultAndHasNoEtcdSettings) {
  Result<WorkerEnv> env = WorkerEnv::FromVariables(
      TwoRanks({{"TRAIN_STORE_BACKEND", "builtin"}, {"TRAIN_STORE_ADDR", "node0:29400"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_FALSE(env->etcd.has_value());
  EXPECT_EQ(env->ToVariables().count("TRAIN_STORE_BACKEND"), 0u);
  EXPECT_THAT(ErrorOf(TwoRanks(
                  {{"TRAIN_STORE_ADDR", "node0:29400"}, {"TRAIN_STORE_ENDPOINTS", "etcd-0:2379"}})),
              HasSubstr("TRAIN_STORE_ENDPOINTS=\"etcd-0:2379\" is for an etcd store"));
}

TEST(EtcdEnvTest, MistakesNameTheVariableAndTheFix) {
  EXPECT_THAT(ErrorOf(TwoRanks({{"TRAIN_STORE_BACKEND", "zookeeper"}})),
              HasSubstr("TRAIN_STORE_BACKEND=\"zookeeper\" is not a store backend: use builtin "
                        "or etcd"));
  EXPECT_THAT(ErrorOf(TwoRanks({{"TRAIN_STORE_BACKEND", "etcd"}})),
              HasSubstr("TRAIN_STORE_ENDPOINTS is not set"));
  EXPECT_THAT(ErrorOf(TwoRanks({{"TRAIN_STORE_BACKEND", "etcd"},
                                {"TRAIN_STORE_ENDPOINTS", "etcd-0:2379,,etcd-1:2379"}})),
              HasSubstr("not a comma-separated list of etcd endpoints"));
  EXPECT_THAT(ErrorOf(TwoRanks({{"TRAIN_STORE_BACKEND", "etcd"},
                                {"TRAIN_STORE_ENDPOINTS", "etcd-0:2379"},
                                {"TRAIN_STORE_ADDR", "node0:29400"}})),
              HasSubstr("unset one of them"));
  EXPECT_THAT(ErrorOf(TwoRanks({{"TRAIN_STORE_BACKEND", "etcd"},
                                {"TRAIN_STORE_ENDPOINTS", "etcd-0:2379"},
                                {"TRAIN_ETCD_PASSWORD_FILE", "/p"}})),
              HasSubstr("without TRAIN_ETCD_USER"));
  EXPECT_THAT(ErrorOf(TwoRanks({{"TRAIN_STORE_BACKEND", "etcd"},
                                {"TRAIN_STORE_ENDPOINTS", "etcd-0:2379"},
                                {"TRAIN_ETCD_CERT_FILE", "/c.pem"}})),
              HasSubstr("go together"));
}

TEST(EtcdEnvTest, EndpointsTakeAnHttpOrHttpsSchemeOrNone) {
  EXPECT_EQ(*ParseEtcdEndpoint("etcd-0:2379", "x"), (StoreAddress{"etcd-0", 2379}));
  EXPECT_EQ(*ParseEtcdEndpoint("http://10.0.0.1:2379/", "x"), (StoreAddress{"10.0.0.1", 2379}));
  EXPECT_EQ(*ParseEtcdEndpoint("https://[::1]:2379", "x"), (StoreAddress{"::1", 2379}));
  EXPECT_THAT(ParseEtcdEndpoint("unix://sock:1", "--store").status().message(),
              HasSubstr("--store=\"unix://sock:1\" is not an etcd endpoint"));
  EXPECT_FALSE(ParseEtcdEndpoint("etcd-0", "x").ok());
  EXPECT_FALSE(ParseEtcdEndpoint("http://etcd-0:2379/v3", "x").ok());
}

}  // namespace
}  // namespace train
