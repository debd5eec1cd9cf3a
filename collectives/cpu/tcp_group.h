// The TCP transport between hosts: a PeerGroup whose members reach each other over a full mesh
// of TCP connections, bootstrapped through the store.
//
// Large messages go around a ring (reduce-scatter then all-gather, chunked so that reducing a
// chunk overlaps the transfer of the next); small ones take the fewest hops (recursive
// doubling, direct exchange, a binomial tree). In deterministic mode every element is reduced
// by its owner in member order, so results do not depend on message or chunk size.
//
// A member that dies is noticed at once by whoever reads from it, which tells every other
// member over a side connection; a member that times out first asks the others which of them
// are in the op, so the error names the ones that never arrived.
#ifndef TRAIN_COLLECTIVES_CPU_TCP_GROUP_H_
#define TRAIN_COLLECTIVES_CPU_TCP_GROUP_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "cpu/peer_group.h"
#include "train/store.h"

namespace train::internal {

struct TcpGroupConfig {
  Store* store = nullptr;  // to exchange listening addresses (keys under key_prefix)
  std::string key_prefix;  // unique per group, e.g. "world/tcp/0/"
  int member = 0;          // this rank's index in the group
  int size = 1;
  std::vector<int> comm_ranks;  // communicator rank of each member (for errors)
  std::string listen_host;      // address to listen on and publish (an IP or a name)
  bool deterministic = false;
  std::size_t chunk_bytes = 0;  // pipelined chunk; 0: kTcpDefaultChunkBytes
  Deadline deadline;            // for the bootstrap (connecting retries until then)
  const std::atomic<bool>* aborted = nullptr;
};

// Bytes reduced at a time while a ring step streams in.
inline constexpr std::size_t kTcpDefaultChunkBytes = 256 << 10;

// Joins the group: listens on listen_host, publishes "host:port" under key_prefix, waits for
// every member's address and connects to each. Collective over the members. Errors name the
// member's communicator rank and address (one that did not publish, refused, or answered as
// another group or member).
Result<std::unique_ptr<PeerGroup>> CreateTcpGroup(const TcpGroupConfig& config);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_TCP_GROUP_H_
