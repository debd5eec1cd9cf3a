// How an agent finds its store, node rank, token and whether it hosts the store: flags, then
// the TRAINCTL_* variables, then the PyTorchJob operator's MASTER_ADDR/MASTER_PORT/RANK.
#include "store_endpoint.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace trainctl::agent {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Env = std::map<std::string, std::string>;

// The contract's args for a pod of an Indexed Job, with the node rank already expanded.
EndpointFlags PodFlags(const std::string& rank) {
  return {"train-0.train:29400", rank, "/etc/trainctl/token/token", "auto"};
}

TEST(StoreEndpoint, ThePodArgsOfNodeZeroHostTheStore) {
  auto e = ResolveEndpoint(PodFlags("0"), {});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->store.host, "train-0.train");
  EXPECT_EQ(e->store.port, 29400);
  EXPECT_EQ(e->store_source, "--store");
  EXPECT_EQ(e->node_rank, 0);
  EXPECT_EQ(e->token_file, "/etc/trainctl/token/token");
  EXPECT_TRUE(e->host_store);
}

TEST(StoreEndpoint, AutoDoesNotHostOnOtherNodes) {
  auto e = ResolveEndpoint(PodFlags("2"), {});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->node_rank, 2);
  EXPECT_FALSE(e->host_store);
}

TEST(StoreEndpoint, TheBareFlagAlwaysHostsAndFalseNever) {
  EndpointFlags flags = PodFlags("3");
  flags.host_store = "true";
  EXPECT_TRUE(ResolveEndpoint(flags, {})->host_store);
  flags.node_rank = "0";
  flags.host_store = "false";
  EXPECT_FALSE(ResolveEndpoint(flags, {})->host_store);
  flags.host_store = "";  // not given, no variable: never
  EXPECT_FALSE(ResolveEndpoint(flags, {})->host_store);
}

TEST(StoreEndpoint, FlagsWinOverTheEnvironment) {
  const Env env = {{"TRAINCTL_STORE", "other:1"},
                   {"TRAINCTL_NODE_RANK", "5"},
                   {"TRAINCTL_TOKEN_FILE", "/other"},
                   {"TRAINCTL_HOST_STORE", "true"},
                   {"MASTER_ADDR", "master"},
                   {"MASTER_PORT", "2"},
                   {"RANK", "7"}};
  auto e = ResolveEndpoint(PodFlags("1"), env);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->store.ToString(), "train-0.train:29400");
  EXPECT_EQ(e->node_rank, 1);
  EXPECT_EQ(e->token_file, "/etc/trainctl/token/token");
  EXPECT_FALSE(e->host_store);
}

TEST(StoreEndpoint, TheTrainctlVariablesStandInForTheFlags) {
  const Env env = {{"TRAINCTL_STORE", "train-0.train:29500"},
                   {"TRAINCTL_NODE_RANK", "0"},
                   {"TRAINCTL_TOKEN_FILE", "/t"},
                   {"TRAINCTL_HOST_STORE", "auto"},
                   {"MASTER_ADDR", "master"},
                   {"MASTER_PORT", "2"},
                   {"RANK", "7"}};
  auto e = ResolveEndpoint({}, env);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->store.ToString(), "train-0.train:29500");
  EXPECT_EQ(e->store_source, "TRAINCTL_STORE");
  EXPECT_EQ(e->node_rank, 0);
  EXPECT_EQ(e->token_file, "/t");
  EXPECT_TRUE(e->host_store);
}

TEST(StoreEndpoint, APyTorchJobPodUsesMasterAddrPortAndRank) {
  const Env env = {{"MASTER_ADDR", "train-master-0"},
                   {"MASTER_PORT", "29400"},
                   {"RANK", "0"},
                   {"WORLD_SIZE", "3"}};
  EndpointFlags flags;
  flags.token_file = "/etc/trainctl/token/token";
  flags.host_store = "auto";
  auto master = ResolveEndpoint(flags, env);
  ASSERT_TRUE(master.ok()) << master.status();
  EXPECT_EQ(master->store.ToString(), "train-master-0:29400");
  EXPECT_EQ(master->store_source, "MASTER_ADDR:MASTER_PORT");
  EXPECT_EQ(master->node_rank, 0);
  EXPECT_TRUE(master->host_store);

  Env worker_env = env;
  worker_env["RANK"] = "2";
  auto worker = ResolveEndpoint(flags, worker_env);
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ(worker->node_rank, 2);
  EXPECT_FALSE(worker->host_store);
}

TEST(StoreEndpoint, AnIpv6MasterAddrIsBracketed) {
  EndpointFlags flags;
  flags.token_file = "/t";
  auto e = ResolveEndpoint(flags, {{"MASTER_ADDR", "fd00::5"}, {"MASTER_PORT", "29400"}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->store.host, "fd00::5");
  EXPECT_EQ(e->store.port, 29400);
}

TEST(StoreEndpoint, WithoutAnyRankTheNodeJoinsInOrder) {
  EndpointFlags flags = PodFlags("");
  flags.host_store = "";
  auto e = ResolveEndpoint(flags, {});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->node_rank, -1);
  flags.node_rank = "auto";
  EXPECT_EQ(ResolveEndpoint(flags, {{"RANK", "3"}})->node_rank, -1);  // the flag wins
}

TEST(StoreEndpoint, AutoWithoutARankIsRefused) {
  auto e = ResolveEndpoint(PodFlags("auto"), {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), train::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(),
              AllOf(HasSubstr("--host-store is auto"), HasSubstr("--node-rank N")));
}

TEST(StoreEndpoint, AnUnexpandedKubernetesReferenceNamesTheMissingVariable) {
  auto e = ResolveEndpoint(PodFlags("$(TRAINCTL_NODE_RANK)"), {});
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(),
              AllOf(HasSubstr("--node-rank"), HasSubstr("not expanded"),
                    HasSubstr("set TRAINCTL_NODE_RANK in the container's env")));
}

TEST(StoreEndpoint, BadValuesNameTheirSourceAndTheValidForms) {
  auto rank = ResolveEndpoint(PodFlags("-1"), {});
  EXPECT_THAT(rank.status().message(),
              AllOf(HasSubstr("--node-rank is \"-1\""), HasSubstr("auto or an integer >= 0")));
  auto env_rank = ResolveEndpoint({"a:1", "", "/t", ""}, {{"TRAINCTL_NODE_RANK", "one"}});
  EXPECT_THAT(env_rank.status().message(), HasSubstr("TRAINCTL_NODE_RANK is \"one\""));
  auto pytorch_rank = ResolveEndpoint({"a:1", "", "/t", ""}, {{"RANK", "x"}});
  EXPECT_THAT(pytorch_rank.status().message(), HasSubstr("RANK is \"x\""));

  EndpointFlags flags = PodFlags("0");
  flags.host_store = "yes";
  EXPECT_THAT(ResolveEndpoint(flags, {}).status().message(),
              AllOf(HasSubstr("--host-store is \"yes\""), HasSubstr("auto"), HasSubstr("true"),
                    HasSubstr("false")));
  flags.host_store = "";
  EXPECT_THAT(ResolveEndpoint(flags, {{"TRAINCTL_HOST_STORE", "1"}}).status().message(),
              HasSubstr("TRAINCTL_HOST_STORE is \"1\""));

  auto store = ResolveEndpoint({"train-0.train", "0", "/t", ""}, {});
  EXPECT_THAT(store.status().message(), HasSubstr("--store"));
  auto env_store = ResolveEndpoint({"", "0", "/t", ""}, {{"TRAINCTL_STORE", "x:99999"}});
  EXPECT_THAT(env_store.status().message(), HasSubstr("TRAINCTL_STORE"));
}

TEST(StoreEndpoint, MissingStoreAndTokenSayWhatToGive) {
  auto store = ResolveEndpoint({"", "0", "/t", ""}, {});
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(),
              AllOf(HasSubstr("--store HOST:PORT"), HasSubstr("TRAINCTL_STORE"),
                    HasSubstr("MASTER_ADDR and MASTER_PORT")));
  auto half = ResolveEndpoint({"", "0", "/t", ""}, {{"MASTER_ADDR", "m"}});
  EXPECT_THAT(half.status().message(), HasSubstr("MASTER_PORT is not"));
  auto token = ResolveEndpoint({"a:1", "0", "", ""}, {});
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(),
              AllOf(HasSubstr("--token-file"), HasSubstr("TRAINCTL_TOKEN_FILE")));
}

// A listening socket on loopback, kept open for the test.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(bool listen_too) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      ADD_FAILURE() << "cannot bind a loopback socket";
    }
    port = ntohs(addr.sin_port);
    if (listen_too) listen(fd, 4);
  }
  ~Listener() { close(fd); }
};

TEST(StoreEndpoint, DiagnosisSaysWhetherTheNameResolvesAndSomethingListens) {
  EXPECT_THAT(DiagnoseStore({"no-such-host.invalid", 29400}, train::Milliseconds(200)),
              HasSubstr("the name no-such-host.invalid does not resolve"));
  Listener bound_only(false);  // bound, not listening: connections are refused
  EXPECT_THAT(DiagnoseStore({"127.0.0.1", bound_only.port}, train::Milliseconds(200)),
              HasSubstr("nothing listens on 127.0.0.1:" + std::to_string(bound_only.port)));
  Listener listening(true);
  EXPECT_EQ(DiagnoseStore({"127.0.0.1", listening.port}, train::Milliseconds(200)), "");
}

}  // namespace
}  // namespace trainctl::agent
