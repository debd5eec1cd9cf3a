// Rendezvous rounds over an in-memory store: an agent waiting in a round that others abandoned
// (they moved to a newer one, as after a store moved to another node) is woken by the
// abandoned round's "closed" key and joins them.
#include "rendezvous.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../fake_clock.h"
#include "store/in_memory_store.h"
#include "store/store_state.h"

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
  EXPECT_EQ(store->TryGet(kCurrentKey).value(), std::nullopt) << "round 0 is current unwritten";

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
  EXPECT_EQ(store->TryGet(kCurrentKey).value(), "1");
}

// The last call, on a clock the test moves: one node of min 1, max 2 closes the round alone
// once 60 s have passed since it joined, without the test waiting them. The store's deadlines
// run on the same clock.
TEST(Rendezvous, TheLastCallClosesWithWhoeverJoinedWhenItsTimeHasPassed) {
  train::testing::FakeClock clock;
  auto state = std::make_shared<train::internal::StoreState>(train::StoreLimits{}, &clock);
  auto store = train::internal::NewInMemoryStore(state);
  RendezvousConfig config = Nodes(1, 2);
  config.last_call = 60s;
  config.join_timeout = 600s;
  std::atomic<bool> cancelled{false};
  train::Result<Round> joined = train::UnknownError("not joined");
  std::thread agent([&] {
    Rendezvous alone(store.get(), config, NodeInfo{"agent-a", "a"}, &clock);
    joined = alone.Join(0, cancelled);
  });
  // Parked on the round's "closed" key for one wait slice; each wake on the moved clock checks
  // the last call.
  while (state->waiter_count() == 0) std::this_thread::sleep_for(1ms);
  clock.Advance(59s);
  state->Tick();
  while (state->waiter_count() == 0) std::this_thread::sleep_for(1ms);  // waits on, 1 s left
  EXPECT_FALSE(store->TryGet(RoundKey(0, "closed")).value().has_value()) << "closed too early";
  clock.Advance(1s);
  state->Tick();
  agent.join();
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(joined->num_nodes(), 1);
  EXPECT_EQ(joined->node_rank, 0);
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

// `n` agents join one round of n nodes at once; returns their rounds in agent order.
std::vector<Round> JoinTogether(train::Store* store, int n, const std::vector<NodeInfo>& infos) {
  std::atomic<bool> cancelled{false};
  std::vector<train::Result<Round>> joined(static_cast<std::size_t>(n),
                                           train::UnknownError("not joined"));
  std::vector<std::thread> agents;
  for (int i = 0; i < n; ++i) {
    agents.emplace_back([&, i] {
      Rendezvous rendezvous(store, Nodes(n, n), infos[static_cast<std::size_t>(i)]);
      joined[static_cast<std::size_t>(i)] = rendezvous.Join(0, cancelled);
    });
  }
  for (std::thread& t : agents) t.join();
  std::vector<Round> rounds;
  for (auto& r : joined) {
    EXPECT_TRUE(r.ok()) << r.status();
    rounds.push_back(r.ok() ? *r : Round{});
  }
  return rounds;
}

TEST(Rendezvous, EachAgentReadsItsRankUnderItsSlotAndTheRecordStaysSmall) {
  for (int n : {2, 40, 1100}) {  // 1100: the closer reads and writes in slices of 512
    auto store = train::NewInMemoryStore();
    std::vector<NodeInfo> infos;
    for (int i = 0; i < n; ++i) {
      // Agents 0 and 1 give node ranks (--node-rank 5 and 2); every agent could host the store.
      infos.push_back(NodeInfo{"agent-" + std::to_string(i), "host-" + std::to_string(i),
                               i == 0   ? 5
                               : i == 1 ? 2
                                        : -1,
                               0, "launch", "10.0.0." + std::to_string(i) + ":29400"});
    }
    const auto rounds = JoinTogether(store.get(), n, infos);
    std::set<int> ranks;
    for (const Round& r : rounds) {
      EXPECT_EQ(r.num_nodes(), n);
      ranks.insert(r.node_rank);
      EXPECT_LE(r.successors.size(), kMaxSuccessors);
    }
    EXPECT_EQ(ranks.size(), static_cast<std::size_t>(n)) << "node ranks 0..n-1, each once";
    EXPECT_EQ(*ranks.rbegin(), n - 1);
    EXPECT_EQ(rounds[1].node_rank, 0) << "given node ranks come first, in their order";
    EXPECT_EQ(rounds[0].node_rank, 1);
    // The order record names each node's slot; a node's member record names its host.
    for (int i = 0; i < n; ++i) {
      auto slot = SlotOfNode(store.get(), 0, rounds[static_cast<std::size_t>(i)].node_rank);
      ASSERT_TRUE(slot.ok()) << slot.status();
      auto member = store->TryGet(RoundKey(0, "member/" + std::to_string(*slot))).value();
      ASSERT_TRUE(member.has_value());
      EXPECT_EQ(ParseNodeInfo(*member)->agent_id, "agent-" + std::to_string(i));
    }
    EXPECT_EQ(SlotOfNode(store.get(), 0, n).status().code(), train::StatusCode::kNotFound);
    // What every agent waits on does not grow with the number of nodes.
    const auto record = store->TryGet(RoundKey(0, "closed")).value();
    ASSERT_TRUE(record.has_value());
    EXPECT_LT(record->size(), 400u) << *record;
  }
}

TEST(Rendezvous, AnAgentLeftOutOfAFullRoundFindsNoRankAndWaitsAsASpare) {
  auto store = train::NewInMemoryStore();
  std::atomic<bool> cancelled{false};
  Rendezvous member(store.get(), Nodes(1, 1), NodeInfo{"agent-a", "a"});
  ASSERT_TRUE(member.Join(0, cancelled).ok());
  std::atomic<bool> spare_joined{false};
  train::Result<Round> spare_round = train::UnknownError("not joined");
  std::thread spare([&] {
    Rendezvous late(store.get(), Nodes(1, 1), NodeInfo{"agent-b", "b"});
    spare_round = late.Join(0, cancelled);
    spare_joined = true;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(spare_joined) << "round 0 is full: the spare waits for it to end";
  ASSERT_TRUE(store->Set(RoundKey(0, "restart"), "node a was lost").ok());
  // Round 0 is over: the spare forms the next round.
  spare.join();
  ASSERT_TRUE(spare_round.ok()) << spare_round.status();
  EXPECT_EQ(spare_round->id, 1);
  EXPECT_EQ(spare_round->node_rank, 0);
  EXPECT_EQ(spare_round->num_nodes(), 1);
}

}  // namespace
}  // namespace trainctl::agent
