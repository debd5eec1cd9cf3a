// Rendezvous rounds over an in-memory store: an agent waiting in a round that others abandoned
// (they moved to a newer one, as after a store moved to another node) is woken by the
// abandoned round's "closed" key and joins them.
#include "rendezvous.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace trainctl::agent {
namespace {

using namespace std::chrono_literals;

RendezvousConfig Nodes(int min, int max) {
  RendezvousConfig config;
  config.min_nodes = min;
  config.max_nodes = max;
  config.join_timeout = 60s;
  config.last_call = 60s;
  return config;
}

TEST(Rendezvous, AnAgentWaitingInAnAbandonedRoundFollowsToTheNewOne) {
  auto store = train::NewInMemoryStore();
  std::atomic<bool> cancelled{false};
  train::Result<Round> waiting = train::UnknownError("not joined");
  std::thread first([&] {
    Rendezvous rendezvous(store.get(), Nodes(2, 2), NodeInfo{"agent-a", "a"});
    waiting = rendezvous.Join(0, cancelled);
  });
  // Agent a holds slot 1 of round 0, which needs two nodes.
  while (!store->TryGet("round/0/member/1").value().has_value()) std::this_thread::sleep_for(1ms);

  // Agent b restarts from round 1 (it brings the restart count of a round 0 it took part in).
  Rendezvous second(store.get(), Nodes(2, 2), NodeInfo{"agent-b", "b"});
  auto joined = second.Join(1, cancelled);
  first.join();
  ASSERT_TRUE(joined.ok()) << joined.status();
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_EQ(joined->id, 1);
  EXPECT_EQ(waiting->id, 1);
  EXPECT_EQ(joined->num_nodes(), 2);
  EXPECT_EQ(store->TryGet("round/0/closed").value(), "superseded by 1");
}

TEST(Rendezvous, ARoundThatClosedKeepsItsRecordWhenCurrentMovesOn) {
  auto store = train::NewInMemoryStore();
  std::atomic<bool> cancelled{false};
  Rendezvous alone(store.get(), Nodes(1, 1), NodeInfo{"agent-a", "a"});
  auto round0 = alone.Join(0, cancelled);
  ASSERT_TRUE(round0.ok()) << round0.status();
  const auto record = store->TryGet("round/0/closed").value();
  ASSERT_TRUE(record.has_value());
  auto round1 = alone.Join(1, cancelled);
  ASSERT_TRUE(round1.ok()) << round1.status();
  EXPECT_EQ(round1->id, 1);
  EXPECT_EQ(store->TryGet("round/0/closed").value(), record) << "a closed round is history";
}

}  // namespace
}  // namespace trainctl::agent
