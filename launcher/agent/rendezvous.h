// Rendezvous rounds: agents meet in the store, a round closes with between min and max nodes,
// and every member learns its node rank, the round's size and its restart count.
//
// Keys, relative to the job's prefix (docs/launcher.md, "The store's keys"):
//   current                    the newest round id (agents never move it backwards)
//   round/<r>/joined           counter: each joining agent takes the next slot
//   round/<r>/member/<slot>    the agent's NodeInfo (JSON)
//   round/<r>/size             "<K> <agent>": the first agent to claim the close, and K
//   round/<r>/rank/<slot>      the node rank of the agent that took <slot> (absent: left out)
//   round/<r>/order            the members' slots in node order (read when a host is named)
//   round/<r>/closed           the round's size, restart count, launch id and first few
//                              store successors (JSON of a constant size: every agent reads
//                              it); or "superseded by <r'>" when agents moved on to round r'
//                              before it closed (it wakes those still waiting in it)
//   round/<r>/restart          the reason the round ended early; set once by anyone
//   outcome                    how the job ended (JSON), so late agents stop waiting
#ifndef TRAINCTL_AGENT_RENDEZVOUS_H_
#define TRAINCTL_AGENT_RENDEZVOUS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "train/defaults.h"
#include "train/internal/os_env.h"
#include "train/status.h"
#include "train/store.h"

namespace trainctl::agent {

using train::Milliseconds;

struct RendezvousConfig {
  int min_nodes = 1;
  int max_nodes = 1;
  Milliseconds join_timeout = train::defaults::kJoinTimeout;
  Milliseconds last_call = train::defaults::kLastCall;
  // While the store cannot be reached, `log` (when set) gets a line now and then naming
  // `store` and why: the name does not resolve yet, nothing listens there yet, ...
  train::StoreAddress store;
  std::function<void(const std::string&)> log;
  Milliseconds log_every{5000};
};

// What an agent tells the others about itself.
struct NodeInfo {
  std::string agent_id;     // unique per agent process
  std::string host;         // for messages
  int node_rank_hint = -1;  // --node-rank N; -1 for auto (join order)
  int next_restart = 0;     // the restart count this agent expects for its next round
  // The launch this agent belongs to (the workers' TRAIN_LAUNCH_ID): its own proposal until
  // a round tells it the job's.
  std::string launch_id = {};
  // host:port where this agent would host the built-in store should its host be lost ("" for
  // none): docs/store.md, "When the store's host is lost".
  std::string store_at = {};
};

// How many members' store_at a round's record carries: the store moves at most this many times
// within one round, and the record stays the same size however many nodes join.
inline constexpr std::size_t kMaxSuccessors = 8;

struct Round {
  std::int64_t id = 0;
  int node_rank = 0;
  int node_count = 0;
  int restart_count = 0;  // the largest next_restart among the members
  // The job's launch: that of the member with the most restarts behind it (the first in node
  // order among equals), so that a node that replaced a lost one adopts the survivors'.
  std::string launch_id = {};
  // The first kMaxSuccessors distinct store_at of the members, in node order: who hosts the
  // store next when its host is lost.
  std::vector<std::string> successors = {};
  int num_nodes() const { return node_count; }
};

// The join slot of node `node_rank` in round `round`, from its order record.
train::Result<std::int64_t> SlotOfNode(train::Store* job_store, std::int64_t round, int node_rank);

// A member's record, as stored under round/<r>/member/<slot>.
train::Result<NodeInfo> ParseNodeInfo(const std::string& json);

class Rendezvous {
 public:
  // `job_store` holds the job's keys (a prefix store); it must outlive this object. `env`'s
  // clock times the join timeout, the last call and the checks for a newer round (a test's
  // clock moves them with the store's).
  Rendezvous(train::Store* job_store, RendezvousConfig config, NodeInfo self,
             train::internal::OsEnv* env = train::internal::OsEnv::Default());

  // Joins round `min_round` or a newer one and waits until a round closes with this node in
  // it. Retries while the store is unreachable, up to the join timeout. CANCELLED when
  // `cancelled` becomes true; ABORTED when the job already has an outcome.
  train::Result<Round> Join(std::int64_t min_round, const std::atomic<bool>& cancelled);

  NodeInfo& self() { return self_; }

 private:
  // One attempt at round `r`: the round, or the next round id to try (when this node was left
  // out of `r`), or an error.
  struct Attempt {
    std::optional<Round> round;
    std::int64_t next = 0;
  };
  train::Result<Attempt> TryRound(std::int64_t r, const std::atomic<bool>& cancelled);
  train::Status Close(std::int64_t r, std::int64_t size);
  train::Result<std::int64_t> BumpCurrent(std::int64_t r, std::optional<std::string> current);
  train::Result<Attempt> ReadClosed(std::int64_t r, const std::string& closed,
                                    const std::atomic<bool>& cancelled);
  train::Status WaitRoundOver(std::int64_t r, const std::atomic<bool>& cancelled);
  std::chrono::steady_clock::time_point Now() const;
  // Until `deadline`, at least 1 ms (a store wait of 0 would not wait at all).
  Milliseconds Remaining(std::chrono::steady_clock::time_point deadline) const;

  train::Store* store_;
  RendezvousConfig config_;
  NodeInfo self_;
  std::vector<std::int64_t> my_slots_;  // in the round being joined (a retry takes another)
  std::int64_t my_round_ = -1;
  std::chrono::steady_clock::time_point deadline_;
  train::internal::OsEnv* env_;
};

// Key names shared by the rendezvous, the agent and the run command.
std::string RoundKey(std::int64_t round, std::string_view name);
inline constexpr char kCurrentKey[] = "current";
inline constexpr char kOutcomeKey[] = "outcome";
// Under a round: rank 0's latest step, which node 0's agent writes from its workers' reports.
inline constexpr char kProgressKey[] = "progress";

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_RENDEZVOUS_H_
