// Which ranks share a host (and so can share memory), found by every rank publishing its host
// identity to the store: detected, not assumed from LOCAL_WORLD_SIZE.
#ifndef TRAIN_COLLECTIVES_CPU_TOPOLOGY_H_
#define TRAIN_COLLECTIVES_CPU_TOPOLOGY_H_

#include <string>
#include <vector>

#include "train/status.h"
#include "train/store.h"

namespace train::internal {

struct Topology {
  // Ranks of each host, in rank order; hosts ordered by their lowest rank.
  std::vector<std::vector<int>> hosts;
  int host = 0;   // this rank's host
  int local = 0;  // this rank's index on its host

  int local_size() const { return static_cast<int>(hosts[host].size()); }
  // Every host holds the same number of ranks.
  bool Uniform() const;
};

// What makes two processes able to share POSIX shared memory: host name, boot id, IPC
// namespace and the /dev/shm mount.
std::string DetectHostIdentity();

// Publishes `identity` under `prefix`, waits for every rank's, and groups ranks by it.
// Without a store the world must be 1.
Result<Topology> DiscoverTopology(Store* store, const std::string& prefix, int rank, int world_size,
                                  const std::string& identity, Milliseconds timeout);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_TOPOLOGY_H_
