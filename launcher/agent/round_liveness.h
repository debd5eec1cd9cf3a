// How the nodes of a running round learn of each other's fate through the store, at a cost
// per node that does not grow with the number of nodes (docs/launcher.md, "Failures and
// restarts"): each node refreshes its own heartbeat key, looks at the heartbeats of its next
// few nodes in a ring (a node that stops is seen by the first live node before it), and parks
// one request on the round's restart key instead of polling it.
#ifndef TRAINCTL_AGENT_ROUND_LIVENESS_H_
#define TRAINCTL_AGENT_ROUND_LIVENESS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "train/internal/os_env.h"
#include "train/store.h"

namespace trainctl::agent {

using train::Milliseconds;

// "node/<node>/<name>", relative to the round's prefix.
std::string NodeKey(int node, std::string_view name);

// The nodes whose heartbeats node `node_rank` of `num_nodes` checks: the next kWatchedPeers
// in ring order (fewer in a small round; none alone).
inline constexpr int kWatchedPeers = 2;
std::vector<int> WatchedPeers(int node_rank, int num_nodes);

// What a node reads at each look, in one MultiGet: for each watched peer its heartbeat and
// done keys (a peer is alive when either is set), then its own workers' heartbeat keys.
std::vector<std::string> LivenessKeys(int node_rank, int num_nodes, int nproc);

// Refreshes this node's heartbeat key every `interval` in the background; remembers when the
// store last answered (on `env`'s clock), which is what fencing is decided on.
class NodeHeartbeat {
 public:
  NodeHeartbeat(train::Store* round_store, int node, Milliseconds interval, Milliseconds ttl,
                train::internal::OsEnv* env = train::internal::OsEnv::Default());
  ~NodeHeartbeat();
  NodeHeartbeat(const NodeHeartbeat&) = delete;
  NodeHeartbeat& operator=(const NodeHeartbeat&) = delete;

  // Time since the store last accepted a heartbeat.
  Milliseconds SinceLastBeat() const;

  // The store's address refused the last few connections at once: nothing listens there any
  // more (its host's agent is gone), which waiting out the heartbeat timeout would only confirm.
  // A host that is down or cut off does not refuse; it is found by the timeout.
  bool StoreRefuses() const;

 private:
  void Beat();

  train::Store* store_;
  std::string key_;
  Milliseconds interval_, ttl_;
  train::internal::OsEnv* env_;
  std::atomic<std::chrono::steady_clock::time_point> last_ok_;
  std::atomic<int> refusals_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// Parks a Get on `key` (the round's restart key) in the background, so that a node learns
// that the round is over as soon as any node says so, with one request in flight rather than
// one poll per tick. Each parked request lasts at most `slice`, which bounds how long the
// destructor waits for it.
class RestartWatch {
 public:
  RestartWatch(train::Store* round_store, std::string key, Milliseconds slice);
  ~RestartWatch();
  RestartWatch(const RestartWatch&) = delete;
  RestartWatch& operator=(const RestartWatch&) = delete;

  // The key's value once it is set.
  std::optional<std::string> reason();

 private:
  train::Store* store_;
  std::string key_;
  Milliseconds slice_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::optional<std::string> reason_;
  std::thread thread_;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_ROUND_LIVENESS_H_
