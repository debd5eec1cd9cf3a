// In-memory peer snapshots: each rank's state after a step, kept in RAM on its own node and
// copied to ranks on other nodes, so that a restart after losing a worker or a whole node
// resumes from the last step or the one before it without reading storage. Disk checkpoints
// (train/checkpoint.h) stay the fallback: a snapshot is gone when every node holding it is.
//
//   train::MemorySnapshotOptions options;
//   options.dir = env.checkpoint_memory_dir;           // node-local tmpfs, kept by the agent
//   options.node = env.node_rank;
//   auto snapshots = train::MemorySnapshots::Open(comm.get(), options);   // collective
//   auto loaded = (*snapshots)->LoadLatest(state, /*newer_than=*/disk_step);  // collective
//   ...
//   TRAIN_CHECK_OK((*snapshots)->Save(step, state));   // collective, every step
//
// Where they live: options.dir, a directory in RAM (/dev/shm) that outlives the worker process
// but not the node: trainctl's agent makes one per node and run, gives it to its workers as
// TRAIN_CHECKPOINT_MEMORY_DIR and removes it when it ends (its watchdog does when the agent is
// killed). The snapshot of rank R at step S is the file w<W>-rank-<R>-step-<S>.snap (W the world
// size): one self-checking blob (a CRC32C over everything). A node keeps the two newest steps of
// each rank it holds, so that some step is complete everywhere whenever a fault struck.
//
// Replicas: the nodes are taken in order in groups of replicas + 1 (the last group takes the
// remainder), and the ranks with the same local index in a group exchange their snapshots with
// one all-gather after every Save: each snapshot is then held on replicas + 1 nodes, and a job
// survives the loss of all but one node of each group. With one node there is nothing to copy
// to (a worker's loss is survived; a node's falls back to disk).
//
// Loading: every rank lists what its node holds; all agree on the newest step that some node
// holds for every rank; a rank whose snapshot is only on another node receives it from there
// (a broadcast), and each rank checks its snapshot before restoring it. A snapshot of another
// world size is never used.
#ifndef TRAIN_MEMORY_SNAPSHOTS_H_
#define TRAIN_MEMORY_SNAPSHOTS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "train/checkpoint.h"
#include "train/status.h"

namespace train {

class Communicator;

struct MemorySnapshotOptions {
  // The node-local directory in RAM; created when missing.
  std::string dir;
  // Copies on other nodes: 0 keeps snapshots on the own node only.
  int replicas = 1;
  // This rank's node (the worker's node_rank): ranks of one node share `dir`.
  int node = 0;
  // Recorded in every snapshot; a load refuses another job's (empty: no check).
  std::string job_id;
};

class MemorySnapshots {
 public:
  virtual ~MemorySnapshots() = default;
  MemorySnapshots(const MemorySnapshots&) = delete;
  MemorySnapshots& operator=(const MemorySnapshots&) = delete;

  // Collective over `comm`, which must outlive the returned object. Snapshots move host
  // memory: over an NCCL communicator they travel on a CPU one split off it (SplitForHost).
  static Result<std::unique_ptr<MemorySnapshots>> Open(Communicator* comm,
                                                       const MemorySnapshotOptions& options);

  // Keeps `state` (read from its views, CPU or CUDA) as step `step` on this node and on this
  // rank's replica peers. Collective. Returns once every copy is in place.
  virtual Status Save(std::int64_t step, const CheckpointState& state) = 0;

  // Restores the newest step held for every rank, if it is newer than `newer_than`, into the
  // views of `into` (the same tensors as saved) and returns the rest; nullopt when there is
  // none (or it fails its checks on some rank: then a warning says why, and the caller loads
  // its disk checkpoint). Collective; every rank gets the same answer.
  virtual Result<std::optional<LoadedCheckpoint>> LoadLatest(CheckpointState& into,
                                                             std::int64_t newer_than) = 0;

  // How many other nodes hold each of this rank's snapshots.
  virtual int replica_nodes() const = 0;

 protected:
  MemorySnapshots() = default;
};

}  // namespace train

#endif  // TRAIN_MEMORY_SNAPSHOTS_H_
