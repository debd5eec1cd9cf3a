// The round's MASTER_ADDR/MASTER_PORT for torch.distributed's env://: node 0 publishes a free
// port, the other nodes read the same one.
#include "torch_master.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace trainctl::agent {
namespace {

using namespace std::chrono_literals;

// Whether a listening socket can bind `port` on every interface now.
bool CanBind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

TEST(TorchMasterTest, EveryNodeGetsNodeZerosFreePort) {
  auto store = train::NewInMemoryStore();
  const train::StoreAddress job_store{"127.0.0.1", 29400};
  train::Result<train::StoreAddress> node1 = train::InternalError("not run");
  std::thread reader([&] { node1 = AgreeTorchMaster(store.get(), 1, "vm1", job_store, 10s); });
  auto node0 = AgreeTorchMaster(store.get(), 0, "vm0", job_store, 10s);
  reader.join();
  ASSERT_TRUE(node0.ok()) << node0.status();
  ASSERT_TRUE(node1.ok()) << node1.status();
  EXPECT_EQ(*node0, *node1);
  EXPECT_EQ(node0->host, "127.0.0.1") << "a job on loopback stays on loopback";
  EXPECT_NE(node0->port, job_store.port);
  EXPECT_TRUE(CanBind(node0->port)) << "rank 0's TCPStore must be able to bind it";
}

TEST(TorchMasterTest, AStoreElsewhereMeansNodeZerosAddressTowardsIt) {
  // The store named by this machine's host name (not a loopback literal): the answer is the
  // address of the interface that routes there, which other nodes can reach, not a host name.
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (getaddrinfo(name, nullptr, &hints, &found) != 0) GTEST_SKIP() << name << " does not resolve";
  freeaddrinfo(found);
  auto store = train::NewInMemoryStore();
  auto master = AgreeTorchMaster(store.get(), 0, "node0", {name, 29400}, 1s);
  ASSERT_TRUE(master.ok()) << master.status();
  in_addr parsed{};
  EXPECT_EQ(inet_pton(AF_INET, master->host.c_str(), &parsed), 1) << master->host;
}

TEST(TorchMasterTest, AStoreThatDoesNotResolveFallsBackToTheHostName) {
  auto store = train::NewInMemoryStore();
  auto master = AgreeTorchMaster(store.get(), 0, "node0", {"no-such-host.invalid", 29400}, 1s);
  ASSERT_TRUE(master.ok()) << master.status();
  EXPECT_EQ(master->host, "node0");
}

TEST(TorchMasterTest, NodeZeroKeepsWhatItPublishedFirst) {
  auto store = train::NewInMemoryStore();
  auto first = AgreeTorchMaster(store.get(), 0, "vm", {"127.0.0.1", 1}, 1s);
  auto again = AgreeTorchMaster(store.get(), 0, "vm", {"127.0.0.1", 1}, 1s);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(*first, *again);
}

TEST(TorchMasterTest, WithoutNodeZeroTheOthersTimeOut) {
  auto store = train::NewInMemoryStore();
  auto master = AgreeTorchMaster(store.get(), 1, "vm1", {"127.0.0.1", 1}, 50ms);
  ASSERT_FALSE(master.ok());
  EXPECT_EQ(master.status().code(), train::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace trainctl::agent
