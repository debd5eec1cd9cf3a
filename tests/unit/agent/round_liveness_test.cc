// What a node of a running round reads and writes in the store to follow the others: its ring
// peers, one read per look, a heartbeat key, and a parked watch of the restart key.
#include "round_liveness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "train/internal/job_keys.h"
#include "train/worker.h"

namespace trainctl::agent {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RoundLiveness, EachNodeWatchesTheNextNodesInTheRing) {
  EXPECT_THAT(WatchedPeers(0, 1), IsEmpty()) << "alone: nobody to watch";
  EXPECT_THAT(WatchedPeers(0, 2), ElementsAre(1));
  EXPECT_THAT(WatchedPeers(1, 2), ElementsAre(0));
  EXPECT_THAT(WatchedPeers(3, 4), ElementsAre(0, 1));
  // Every node is watched by kWatchedPeers others, so one live node finds any lost one.
  for (int n : {3, 7, 4096}) {
    std::vector<int> watchers(static_cast<std::size_t>(n));
    for (int node = 0; node < n; ++node) {
      for (int peer : WatchedPeers(node, n)) ++watchers[static_cast<std::size_t>(peer)];
    }
    EXPECT_EQ(std::set<int>(watchers.begin(), watchers.end()), std::set<int>{kWatchedPeers});
  }
}

TEST(RoundLiveness, OneReadCoversThePeersAndThisNodesWorkers) {
  EXPECT_THAT(LivenessKeys(4095, 4096, 2),
              ElementsAre("node/0/heartbeat", "node/0/done", "node/1/heartbeat", "node/1/done",
                          train::internal::WorkerHeartbeatKey(8190),
                          train::internal::WorkerHeartbeatKey(8191)));
}

TEST(RoundLiveness, TheHeartbeatKeyExpiresOnceTheNodeStopsBeating) {
  auto store = train::NewInMemoryStore();
  {
    NodeHeartbeat beat(store.get(), 3, 20ms, 200ms);
    EXPECT_TRUE(store->TryGet("node/3/heartbeat").value().has_value());
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(store->TryGet("node/3/heartbeat").value().has_value()) << "refreshed";
    EXPECT_LT(beat.SinceLastBeat(), 200ms);
    EXPECT_FALSE(beat.StoreRefuses());
  }
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(store->TryGet("node/3/heartbeat").value().has_value());
}

TEST(RoundLiveness, TheRestartWatchSeesASetAtOnceAndStopsWithinItsSlice) {
  auto store = train::NewInMemoryStore();
  RestartWatch watch(store.get(), "restart", 5s);
  EXPECT_EQ(watch.reason(), std::nullopt);
  ASSERT_TRUE(store->Set("restart", "rank 3 exited with code 1").ok());
  const auto set_at = std::chrono::steady_clock::now();
  while (!watch.reason() && std::chrono::steady_clock::now() - set_at < 2s) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(watch.reason(), "rank 3 exited with code 1");

  const auto started = std::chrono::steady_clock::now();
  { RestartWatch idle(store.get(), "never-set", 100ms); }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "the destructor waits one slice";
}

}  // namespace
}  // namespace trainctl::agent
