// The shared-memory transport within a host: a PeerGroup whose members share one POSIX
// shared-memory segment.
//
// Large messages stream through a small ring of slots that stays in the last-level cache:
// each member copies a chunk of its input into its slot, reduces its share (1/n) of the chunk
// across every member's slot in member order, and copies the reduced chunk out, with several
// chunks in flight so that the stages overlap. Each input byte is read from memory once and
// each output byte written once. Results do not depend on the chunk or message size. Small
// messages take one step.
//
// Members wait on per-member sequence counters in the segment: a short spin, then a futex.
// A member that dies is noticed within milliseconds (its pid is in the segment); a member
// that aborts marks the segment so the others stop at once.
#ifndef TRAIN_COLLECTIVES_CPU_SHM_GROUP_H_
#define TRAIN_COLLECTIVES_CPU_SHM_GROUP_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "cpu/peer_group.h"
#include "train/store.h"

namespace train::internal {

struct ShmGroupConfig {
  Store* store = nullptr;  // to exchange the segment's name (keys under key_prefix)
  std::string key_prefix;  // unique per communicator and host, e.g. "world/shm/0/"
  int member = 0;          // this rank's index in the group
  int size = 1;
  std::vector<int> comm_ranks;  // communicator rank of each member (for errors)
  std::size_t chunk_bytes = 0;  // pipelined chunk (at most 1 MiB); 0: ShmDefaultChunkBytes
  Deadline deadline;            // for the bootstrap
  const std::atomic<bool>* aborted = nullptr;
};

// The chunk a member contributes per pipeline step when the config gives none: the ring of
// slots (every member's chunk and the reduced one, a few chunks deep) stays within a few MiB.
std::size_t ShmDefaultChunkBytes(int size);

// Joins the group: member 0 creates the segment (a random name, mode 0600) and publishes its
// name under key_prefix; the others open it; each member records its pid; once all are in,
// the name is unlinked, so the segment goes away with the last member whatever happens.
// Collective over the members. Errors name the members that did not attach by the deadline.
Result<std::unique_ptr<PeerGroup>> CreateShmGroup(const ShmGroupConfig& config);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_SHM_GROUP_H_
