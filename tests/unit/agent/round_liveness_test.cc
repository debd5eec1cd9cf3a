// What a node of a running round reads and writes in the store to follow the others: its ring
// peers, one read per look, a heartbeat key, and a parked watch of the restart key.
#include "round_liveness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <set>
#include <thread>

#include "../../fake_clock.h"
#include "store/in_memory_store.h"
#include "store/store_state.h"
#include "train/internal/job_keys.h"
#include "train/internal/unique_fd.h"
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

// The store's expiry and the heartbeat's clock are one fake clock: beats refresh the key past
// its ttl, and it expires once they stop, without the test waiting out either.
TEST(RoundLiveness, TheHeartbeatKeyExpiresOnceTheNodeStopsBeating) {
  train::testing::FakeClock clock;
  auto state = std::make_shared<train::internal::StoreState>(train::StoreLimits{}, &clock);
  auto store = train::internal::NewInMemoryStore(state);
  {
    NodeHeartbeat beat(store.get(), 3, 20ms, 200ms, &clock);
    EXPECT_TRUE(store->TryGet("node/3/heartbeat").value().has_value());
    for (int step = 0; step < 3; ++step) {  // 450 ms in all, past the 200 ms ttl
      clock.Advance(150ms);
      // The next beat (20 ms of real time away) sets the key again at the clock's time.
      while (beat.SinceLastBeat() >= 150ms) std::this_thread::sleep_for(1ms);
      EXPECT_TRUE(store->TryGet("node/3/heartbeat").value().has_value()) << "refreshed";
    }
    EXPECT_FALSE(beat.StoreRefuses());
  }
  clock.Advance(199ms);
  EXPECT_TRUE(store->TryGet("node/3/heartbeat").value().has_value()) << "within its ttl";
  clock.Advance(2ms);
  EXPECT_FALSE(store->TryGet("node/3/heartbeat").value().has_value());
}

// A TCP port on loopback that refuses connections for as long as the returned socket lives
// (bound, never listening).
std::pair<train::internal::UniqueFd, int> RefusingPort() {
  train::internal::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    return {train::internal::UniqueFd(), 0};
  }
  return {std::move(fd), ntohs(address.sin_port)};
}

// Fencing is decided on how long the store has not taken a heartbeat, timed on the injected
// clock: a store silent for a whole heartbeat timeout is seen without waiting one out.
TEST(RoundLiveness, TheStoresSilenceIsTimedOnTheInjectedClock) {
  auto [socket, port] = RefusingPort();
  ASSERT_NE(port, 0);
  auto store = train::ConnectStore({"127.0.0.1", port}, std::string(64, 'a'));
  ASSERT_TRUE(store.ok()) << store.status();
  train::testing::FakeClock clock;
  NodeHeartbeat beat(store->get(), 0, 20ms, 200ms, &clock);
  EXPECT_EQ(beat.SinceLastBeat(), 0ms);
  clock.Advance(30s);
  EXPECT_EQ(beat.SinceLastBeat(), 30000ms);
  // Refused at once, again and again: nothing listens there, which says more than silence.
  for (int i = 0; i < 10000 && !beat.StoreRefuses(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(beat.StoreRefuses());
  EXPECT_EQ(beat.SinceLastBeat(), 30000ms) << "a refusal is not an answer";

  // A store that answers: the silence ends at its next beat, at the clock's time.
  auto answering = train::NewInMemoryStore();
  NodeHeartbeat healthy(answering.get(), 1, 20ms, 200ms, &clock);
  clock.Advance(30s);
  for (int i = 0; i < 10000 && healthy.SinceLastBeat() > 0ms; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(healthy.SinceLastBeat(), 0ms);
  EXPECT_FALSE(healthy.StoreRefuses());
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
