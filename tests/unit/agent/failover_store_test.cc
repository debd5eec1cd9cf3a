// Who hosts the built-in store next: the successors of a round, in order, with real servers on
// loopback standing in for the other nodes' stores.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "store_failover.h"

namespace trainctl::agent {
namespace {

using namespace std::chrono_literals;

constexpr char kToken[] = "failover-unit-token-0123456789abcdef";

std::unique_ptr<train::StoreServer> Serve(const std::string& token) {
  train::StoreServerOptions options;
  options.token = token;
  auto server = train::StoreServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

// A loopback port nothing listens on: a server started and stopped there.
int UnusedPort() {
  auto server = Serve(kToken);
  const int port = server->port();
  server->Stop();
  return port;
}

FailoverOptions Options(const std::string& store_at) {
  FailoverOptions options;
  options.token = kToken;
  options.bind_host = "127.0.0.1";
  options.store_at = store_at;
  options.grace = 300ms;
  options.probe_timeout = 300ms;
  return options;
}

void Ignore(const std::string&) {}

TEST(FailoverStore, CandidatesLeaveOutTheLostStoresOwnAddressEmptiesAndRepeats) {
  const train::StoreAddress lost{"10.0.0.1", 29400};
  EXPECT_EQ(StoreFailover::Candidates(
                {"", "10.0.0.1:29400", "10.0.0.2:29400", "10.0.0.2:29400", "10.0.0.3:29400"}, lost),
            (std::vector<std::string>{"10.0.0.2:29400", "10.0.0.3:29400"}));
  EXPECT_TRUE(StoreFailover::Candidates({"10.0.0.1:29400"}, lost).empty());
}

TEST(FailoverStore, AWildcardBindPublishesTheHostName) {
  EXPECT_EQ(PublishedStoreAddress("0.0.0.0", "node-3", 29400), "node-3:29400");
  EXPECT_EQ(PublishedStoreAddress("10.0.0.7", "node-3", 29400), "10.0.0.7:29400");
}

TEST(FailoverStore, AnEarlierSuccessorsStoreThatAnswersIsTaken) {
  auto other = Serve(kToken);
  const std::string mine = "127.0.0.1:" + std::to_string(UnusedPort());
  StoreFailover failover(Options(mine), nullptr);
  std::atomic<bool> cancelled{false};
  auto moved =
      failover.TakeOver({other->address().ToString(), mine}, {"10.0.0.1", 1}, Ignore, cancelled);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, other->address());
  EXPECT_FALSE(failover.hosting());
}

TEST(FailoverStore, ASilentOrForeignSuccessorIsPassedOverAndThisNodeHostsWithTheJobsToken) {
  auto foreign = Serve("another-jobs-token-0123456789abcdef");
  const std::string silent = "127.0.0.1:" + std::to_string(UnusedPort());
  const int port = UnusedPort();
  const std::string mine = "127.0.0.1:" + std::to_string(port);
  StoreFailover failover(Options(mine), nullptr);
  std::atomic<bool> cancelled{false};
  auto moved = failover.TakeOver({silent, foreign->address().ToString(), mine}, {"10.0.0.1", 1},
                                 Ignore, cancelled);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->ToString(), mine);
  EXPECT_TRUE(failover.hosting());
  auto client = train::ConnectStore(*moved, kToken);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->Set("k", "v").ok());
  failover.StepDown();
  EXPECT_FALSE(failover.hosting());
  EXPECT_EQ((*client)->TryGet("k").status().code(), train::StatusCode::kUnavailable);
}

TEST(FailoverStore, NoSuccessorIsAFailedPrecondition) {
  StoreFailover failover(Options(""), nullptr);
  std::atomic<bool> cancelled{false};
  auto moved = failover.TakeOver({"", "10.0.0.1:1"}, {"10.0.0.1", 1}, Ignore, cancelled);
  EXPECT_EQ(moved.status().code(), train::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace trainctl::agent
