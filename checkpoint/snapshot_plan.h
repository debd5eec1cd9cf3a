// Who keeps which memory snapshots (the replica groups), and how a restore is planned from
// what every node holds: pure functions of gathered facts, so every rank decides the same.
#ifndef TRAIN_CHECKPOINT_SNAPSHOT_PLAN_H_
#define TRAIN_CHECKPOINT_SNAPSHOT_PLAN_H_

#include <cstdint>
#include <set>
#include <vector>

#include "snapshot_dir.h"
#include "train/status.h"

namespace train {
class Communicator;
}

namespace train::internal {

// The nodes in order form groups of replicas + 1 (the last takes the remainder); the ranks with
// the same local index in a group copy their snapshots to each other.
struct ReplicaLayout {
  int rank = 0;
  int world_size = 1;
  int nodes = 1;
  bool first_on_node = true;  // the lowest rank of its node
  int group_color = -1;       // for Communicator::Split; -1: no group
  int group_key = 0;
  std::vector<int> group_ranks;  // in the split's order; this rank's group
  std::set<int> kept_on_node;    // the ranks whose snapshots this node keeps

  bool KeptOnNode(int owner) const { return kept_on_node.count(owner) != 0; }

  // From every rank's node (one all-gather over `comm`; nullptr: a job of one process).
  static Result<ReplicaLayout> Gather(Communicator* comm, int node, int replicas);
  // The same from the nodes of every rank, for `rank`.
  static ReplicaLayout Compute(const std::vector<std::int64_t>& node_of_rank, int rank,
                               int replicas);
};

// What each rank's node holds, indexed by rank (collective).
Result<std::vector<std::vector<SnapshotFile>>> GatherInventory(
    Communicator* comm, const std::vector<SnapshotFile>& held);

// One rank's snapshot and the rank that reads it (the owner itself when its node holds it).
struct Transfer {
  SnapshotFile file;
  int holder = 0;
};

struct RestorePlan {
  std::int64_t step = 0;
  std::vector<Transfer> transfers;  // one per rank, in rank order
  int from_peers = 0;               // transfers whose holder is not the owner
};

// The steps that some node holds for every rank of `world_size`, newest first, at most
// `limit`.
std::vector<RestorePlan> PlanRestores(const std::vector<std::vector<SnapshotFile>>& inventory,
                                      int world_size, std::size_t limit = 2);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_SNAPSHOT_PLAN_H_
