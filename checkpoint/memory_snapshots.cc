// MemorySnapshots (train/memory_snapshots.h): snapshot blobs in a node-local directory, copied
// to replica peers with an all-gather over a split communicator, restored by agreement.
#include "train/memory_snapshots.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "snapshot_blob.h"
#include "snapshot_dir.h"
#include "snapshot_plan.h"
#include "train/communicator.h"
#include "train/log.h"

namespace train {
namespace {

using internal::SnapshotFile;

// Two steps per rank: whenever a fault struck, every rank holds the newer or the older one.
constexpr std::size_t kStepsKept = 2;

class MemorySnapshotsImpl final : public MemorySnapshots {
 public:
  MemorySnapshotsImpl(std::unique_ptr<Communicator> host, Communicator* comm,
                      MemorySnapshotOptions options, internal::ReplicaLayout layout,
                      std::unique_ptr<Communicator> group)
      : host_(std::move(host)),
        comm_(comm),
        options_(std::move(options)),
        dir_(options_.dir),
        layout_(std::move(layout)),
        group_(std::move(group)) {}

  int replica_nodes() const override { return group_ ? group_->world_size() - 1 : 0; }

  Status Save(std::int64_t step, const CheckpointState& state) override {
    const internal::SnapshotHeader header{step, layout_.rank, layout_.world_size, options_.job_id};
    TRAIN_RETURN_IF_ERROR(internal::EncodeSnapshot(header, state, blob_));
    if (!cleaned_) {
      // Once per process: what an earlier round of this node left that no rank keeps now.
      if (layout_.first_on_node) {
        dir_.RemoveStale(layout_.world_size, [&](int rank) { return layout_.KeptOnNode(rank); });
      }
      cleaned_ = true;
    }
    Keep(SnapshotFile{layout_.world_size, layout_.rank, step, blob_.size()}, blob_.data());
    if (group_ == nullptr) return Status::Ok();
    TRAIN_RETURN_IF_ERROR(Exchange());
    for (std::size_t i = 0; i < sizes_.size(); ++i) {
      if (static_cast<int>(i) == group_->rank()) continue;
      Keep(SnapshotFile{layout_.world_size, layout_.group_ranks[i], step, sizes_[i]},
           gathered_.data() + widest_ * i);
    }
    return Status::Ok();
  }

  Result<std::optional<LoadedCheckpoint>> LoadLatest(CheckpointState& into,
                                                     std::int64_t newer_than) override {
    TRAIN_ASSIGN_OR_RETURN(std::int64_t floor, AgreeOnMax(newer_than));
    std::vector<SnapshotFile> held;
    for (const SnapshotFile& file : dir_.List()) {
      if (file.world_size == layout_.world_size && file.step > floor) held.push_back(file);
    }
    TRAIN_ASSIGN_OR_RETURN(auto inventory, internal::GatherInventory(comm_, held));
    for (const internal::RestorePlan& plan :
         internal::PlanRestores(inventory, layout_.world_size)) {
      TRAIN_ASSIGN_OR_RETURN(auto loaded, TryRestore(plan, into));
      if (loaded) return loaded;
    }
    return std::optional<LoadedCheckpoint>();
  }

 private:
  // Writes a snapshot and drops the same rank's older ones; a failed write (a full tmpfs) is
  // a missing snapshot, not a failed step: loading falls back to an older step or to disk.
  void Keep(const SnapshotFile& file, const std::byte* data) {
    const Status wrote = dir_.Write(file, data, file.bytes);
    if (!wrote.ok()) {
      if (!warned_write_) LogWarning(wrote.ToString() + " (further failures are not logged)");
      warned_write_ = true;
      return;
    }
    dir_.Prune(file.world_size, file.rank, file.step, kStepsKept);
  }

  // Every group member's blob into gathered_ (member i's at widest_ * i, sizes_[i] bytes), in
  // group rank order. The buffers live from step to step.
  Status Exchange() {
    const auto members = static_cast<std::size_t>(group_->world_size());
    sizes_.resize(members);
    std::uint64_t mine = blob_.size();
    TRAIN_RETURN_IF_ERROR(group_
                              ->AllGather(TensorView{&mine, DType::kInt64, 1},
                                          TensorView{sizes_.data(), DType::kInt64, members})
                              ->Wait());
    widest_ = *std::max_element(sizes_.begin(), sizes_.end());
    gathered_.resize(widest_ * members);
    std::byte* own = gathered_.data() + widest_ * static_cast<std::uint64_t>(group_->rank());
    std::copy(blob_.begin(), blob_.end(), own);
    return group_
        ->AllGather(TensorView{own, DType::kUInt8, widest_},
                    TensorView{gathered_.data(), DType::kUInt8, gathered_.size()})
        ->Wait();
  }

  Result<std::int64_t> AgreeOnMax(std::int64_t value) {
    if (comm_ == nullptr) return value;
    TRAIN_RETURN_IF_ERROR(
        comm_->AllReduce(TensorView{&value, DType::kInt64, 1}, ReduceOp::kMax)->Wait());
    return value;
  }

  // Restores `plan`'s step if every rank's snapshot checks; collective.
  Result<std::optional<LoadedCheckpoint>> TryRestore(const internal::RestorePlan& plan,
                                                     CheckpointState& into) {
    std::vector<std::byte> mine;
    Status got = Status::Ok();
    for (const internal::Transfer& transfer : plan.transfers) {
      TRAIN_ASSIGN_OR_RETURN(auto blob, Move(transfer));
      if (transfer.file.rank == layout_.rank) {
        if (blob.ok())
          mine = std::move(*blob);
        else
          got = blob.status();
      }
    }
    const internal::SnapshotHeader expected{plan.step, layout_.rank, layout_.world_size,
                                            options_.job_id};
    Result<internal::DecodedSnapshot> decoded = got;
    if (got.ok()) decoded = internal::DecodeSnapshot(mine, expected, into);
    // Nothing is restored unless every rank's snapshot checks.
    TRAIN_ASSIGN_OR_RETURN(const std::int64_t failures, AgreeOnMax(decoded.ok() ? 0 : 1));
    if (failures != 0) {
      LogWarning("memory snapshots of step " + std::to_string(plan.step) +
                 " are not usable on every rank" +
                 (decoded.ok() ? "" : " (this rank: " + decoded.status().ToString() + ")") +
                 "; trying an older step or the disk checkpoint");
      return std::optional<LoadedCheckpoint>();
    }
    TRAIN_RETURN_IF_ERROR(internal::ApplySnapshot(*decoded, into));
    LoadedCheckpoint loaded = std::move(decoded->rest);
    loaded.path = "memory:" + dir_.path();
    if (layout_.rank == 0) {
      LogInfo("memory snapshots of step " + std::to_string(plan.step) + ": " +
              std::to_string(plan.from_peers) + " of " + std::to_string(layout_.world_size) +
              " rank(s) restored from another node's copy");
    }
    return std::optional<LoadedCheckpoint>(std::move(loaded));
  }

  // One rank's snapshot, to that rank: read from this node, or broadcast by the rank holding
  // it (every rank takes part). Only the owner gets a value; a read failure is its error.
  Result<Result<std::vector<std::byte>>> Move(const internal::Transfer& transfer) {
    const bool owner = transfer.file.rank == layout_.rank;
    if (transfer.holder == transfer.file.rank) {
      if (!owner) return Result<std::vector<std::byte>>(std::vector<std::byte>());
      return dir_.Read(transfer.file);
    }
    std::vector<std::byte> buffer(transfer.file.bytes);
    std::int64_t read_ok = 1;
    if (transfer.holder == layout_.rank) {
      auto read = dir_.Read(transfer.file);
      if (read.ok() && read->size() == buffer.size())
        buffer = std::move(*read);
      else
        read_ok = 0;
    }
    TRAIN_RETURN_IF_ERROR(
        comm_->Broadcast(TensorView{&read_ok, DType::kInt64, 1}, transfer.holder)->Wait());
    if (read_ok == 0) {
      if (!owner) return Result<std::vector<std::byte>>(std::vector<std::byte>());
      return Result<std::vector<std::byte>>(
          DataLossError("rank " + std::to_string(transfer.holder) + " could not read its copy"));
    }
    TRAIN_RETURN_IF_ERROR(
        comm_->Broadcast(TensorView{buffer.data(), DType::kUInt8, buffer.size()}, transfer.holder)
            ->Wait());
    return Result<std::vector<std::byte>>(owner ? std::move(buffer) : std::vector<std::byte>());
  }

  std::unique_ptr<Communicator> host_;  // split from the caller's when that one is NCCL
  Communicator* comm_;                  // host_, or the caller's
  MemorySnapshotOptions options_;
  internal::SnapshotDir dir_;
  internal::ReplicaLayout layout_;
  std::unique_ptr<Communicator> group_;  // this rank's replica group; null without peers
  bool cleaned_ = false;
  bool warned_write_ = false;
  std::vector<std::byte> blob_;       // this rank's latest snapshot
  std::vector<std::uint64_t> sizes_;  // each group member's blob size
  std::vector<std::byte> gathered_;   // every group member's blob, widest_ bytes apart
  std::uint64_t widest_ = 0;
};

}  // namespace

Result<std::unique_ptr<MemorySnapshots>> MemorySnapshots::Open(
    Communicator* comm, const MemorySnapshotOptions& options) {
  if (options.dir.empty()) {
    return InvalidArgumentError(
        "MemorySnapshotOptions::dir is empty: give a node-local directory in RAM (/dev/shm/...)");
  }
  if (options.replicas < 0) {
    return InvalidArgumentError("MemorySnapshotOptions::replicas is " +
                                std::to_string(options.replicas) + "; give 0 or more");
  }
  // Snapshots move host memory: a communicator of device memory only (NCCL) lends a host one
  // of the same ranks.
  std::unique_ptr<Communicator> host;
  if (comm != nullptr && comm->backend() == CommBackend::kNccl) {
    TRAIN_ASSIGN_OR_RETURN(host, comm->SplitForHost());
    comm = host.get();
  }
  TRAIN_RETURN_IF_ERROR(internal::SnapshotDir(options.dir).Create());
  TRAIN_ASSIGN_OR_RETURN(internal::ReplicaLayout layout,
                         internal::ReplicaLayout::Gather(comm, options.node, options.replicas));
  std::unique_ptr<Communicator> group;
  if (comm != nullptr) {
    TRAIN_ASSIGN_OR_RETURN(group, comm->Split(layout.group_color, layout.group_key));
    if (group != nullptr && group->world_size() < 2) group.reset();
  }
  if (layout.rank == 0 && options.replicas > 0 && layout.world_size > 1 && layout.nodes < 2) {
    LogInfo(
        "memory snapshots: one node, so no copies elsewhere (a node's loss falls back to "
        "the disk checkpoint)");
  }
  return std::unique_ptr<MemorySnapshots>(
      new MemorySnapshotsImpl(std::move(host), comm, options, std::move(layout), std::move(group)));
}

}  // namespace train
