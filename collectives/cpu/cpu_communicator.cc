// The CPU communicator: shared memory between the ranks of a host, TCP between
// hosts. With several hosts of several ranks each, an all-reduce is
// hierarchical: a shared-memory all-reduce within each host, then a TCP
// all-reduce of one slice per local rank across hosts (every local rank drives
// its own lane), then a shared-memory all-gather of the slices.
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/backends.h"
#include "common/queued_communicator.h"
#include "cpu/reduce_kernels.h"
#include "cpu/route_address.h"
#include "cpu/shm_group.h"
#include "cpu/tcp_group.h"
#include "cpu/topology.h"
#include "train/log.h"

namespace train::internal {
namespace {

char *Bytes(const TensorView &t) { return static_cast<char *>(t.data); }

class CpuCommunicator final : public QueuedCommunicator {
 public:
  CpuCommunicator(const BackendArgs &args)
      : QueuedCommunicator(args.store, args.rank, args.world_size, args.options) {}
  ~CpuCommunicator() override { StopProgress(); }

  CommBackend backend() const override { return CommBackend::kCpu; }
  void AbortAll(const std::string &reason) override {
    abort_requested_ = true;
    QueuedCommunicator::AbortAll(reason);
    AnnounceAbort();
  }
  std::string Describe() const override;

  // Bootstraps the groups, then starts the progress thread.
  Status Connect();

 protected:
  Status RunAllReduce(const TensorView &in, const TensorView &out, ReduceOp op,
                      OpContext &ctx) override;
  Status RunReduceScatter(const TensorView &in, const TensorView &out, ReduceOp op,
                          OpContext &ctx) override;
  Status RunAllGather(const TensorView &in, const TensorView &out, OpContext &ctx) override;
  Status RunBroadcast(const TensorView &inout, int root, OpContext &ctx) override;
  Status RunBarrier(OpContext &ctx) override;
  Result<std::unique_ptr<Communicator>> MakeChild(int rank, int world_size,
                                                  CommunicatorOptions options) override {
    return CreateCpuCommunicator(BackendArgs{store(), rank, world_size, std::move(options)});
  }

 private:
  bool single_host() const { return topology_.hosts.size() == 1; }
  // The group every op but a multi-host all-reduce runs on: shared memory on
  // one host, TCP over every rank otherwise.
  PeerGroup *flat() const { return single_host() ? local_.get() : all_.get(); }
  Status AllReduceOnGroups(const TensorView &in, const TensorView &out, ReduceOp op,
                           OpContext &ctx);
  Status HierarchicalAllReduce(const TensorView &out, ReduceOp op, OpContext &ctx);
  // `status` of an op; when a group lost a rank, the other groups are told who (their
  // members may be waiting on this rank, which leaves the op).
  Status Settle(Status status, OpContext &ctx);
  // Runs an op's body on the groups, then Settles its status. An abort while no body runs is
  // announced to the peers here (AnnounceAbort); one that comes while a body runs is seen by
  // the body, and announced again after it, should it have ended before looking.
  template <typename Body>
  Status Guarded(OpContext &ctx, Body body) {
    Status status;
    {
      std::lock_guard lock(groups_mu_);
      status = Settle(body(), ctx);
    }
    if (abort_requested_.load(std::memory_order_relaxed)) AnnounceAbort();
    return status;
  }
  void AnnounceAbort();

  Topology topology_;
  std::unique_ptr<PeerGroup> local_;  // this host's ranks (null when alone)
  std::unique_ptr<PeerGroup> lane_;   // across hosts: same local index, or the host leaders
  std::unique_ptr<PeerGroup> all_;    // across hosts: every rank
  std::vector<char> scratch_;         // the all-gather of slices
  std::string listen_address_;        // where other hosts reach this rank ("" on one host)
  std::mutex groups_mu_;              // held while an op's body runs on the groups
  // Abort was called (not destruction, which peers learn of as the group closing).
  std::atomic<bool> abort_requested_{false};
  std::atomic<bool> abort_announced_{false};
};

// "ranks 0-1 | 2-3" (runs of consecutive ranks joined by "-", hosts by " | ").
std::string HostList(const Topology &topology) {
  std::string text;
  for (const auto &host : topology.hosts) {
    if (!text.empty()) text += " | ";
    for (std::size_t i = 0; i < host.size();) {
      std::size_t j = i;
      while (j + 1 < host.size() && host[j + 1] == host[j] + 1) ++j;
      if (i > 0) text += ",";
      text += std::to_string(host[i]);
      if (j > i) text += "-" + std::to_string(host[j]);
      i = j + 1;
    }
  }
  return "ranks " + text;
}

std::string CpuCommunicator::Describe() const {
  std::string text = Communicator::Describe();
  const std::size_t hosts = topology_.hosts.size();
  if (world_size() == 1) return text + ", alone";
  if (hosts == 1) return text + ", one host, shared memory";
  text += ", " + std::to_string(hosts) + " hosts (" + HostList(topology_) + "), ";
  text += local_ ? "shared memory within a host, TCP between hosts" : "TCP between hosts";
  text += " (this rank at " + listen_address_ + ")";
  if (!topology_.Uniform()) text += "; uneven hosts: the host leaders all-reduce, then broadcast";
  return text;
}

Status CpuCommunicator::Connect() {
  const CommunicatorOptions &opts = options();
  const Deadline deadline = std::chrono::steady_clock::now() + opts.timeout;
  const std::string prefix = opts.name + "/cpu/";
  const std::string identity = opts.host_id.empty() ? DetectHostIdentity() : opts.host_id;
  TRAIN_ASSIGN_OR_RETURN(topology_, DiscoverTopology(store(), prefix + "host/", rank(),
                                                     world_size(), identity, opts.timeout));
  const auto &mine = topology_.hosts[topology_.host];
  if (mine.size() > 1) {
    ShmGroupConfig shm;
    shm.store = store();
    shm.key_prefix = prefix + "shm/" + std::to_string(topology_.host) + "/";
    shm.member = topology_.local;
    shm.size = static_cast<int>(mine.size());
    shm.comm_ranks = mine;
    shm.chunk_bytes = opts.chunk_bytes;
    shm.deadline = deadline;
    shm.aborted = &aborted();
    TRAIN_ASSIGN_OR_RETURN(local_, CreateShmGroup(shm));
  }
  if (single_host()) {
    StartProgress();
    return Status::Ok();
  }

  TcpGroupConfig tcp;
  tcp.store = store();
  tcp.listen_host = opts.listen_host.empty() ? HostNameAddress() : opts.listen_host;
  tcp.deterministic = opts.deterministic;
  tcp.chunk_bytes = opts.chunk_bytes;
  tcp.deadline = deadline;
  tcp.aborted = &aborted();
  // Lanes: member h is the rank of host h with this rank's local index (uniform
  // hosts), or host h's first rank (leaders).
  const bool uniform = topology_.Uniform();
  if (uniform || topology_.local == 0) {
    tcp.key_prefix = prefix + "lane" + std::to_string(uniform ? topology_.local : 0) + "/";
    tcp.member = topology_.host;
    tcp.size = static_cast<int>(topology_.hosts.size());
    tcp.comm_ranks.clear();
    for (const auto &host : topology_.hosts)
      tcp.comm_ranks.push_back(host[uniform ? topology_.local : 0]);
    TRAIN_ASSIGN_OR_RETURN(lane_, CreateTcpGroup(tcp));
  }
  tcp.key_prefix = prefix + "all/";
  tcp.member = rank();
  tcp.size = world_size();
  tcp.comm_ranks.clear();
  for (int r = 0; r < world_size(); ++r) tcp.comm_ranks.push_back(r);
  TRAIN_ASSIGN_OR_RETURN(all_, CreateTcpGroup(tcp));
  listen_address_ = tcp.listen_host;
  StartProgress();
  // Which ranks share memory and which talk TCP decides the speed: said once per job.
  if (rank() == 0) LogInfo(Describe());
  return Status::Ok();
}

void CpuCommunicator::AnnounceAbort() {
  std::unique_lock lock(groups_mu_, std::try_to_lock);
  if (!lock.owns_lock() || abort_announced_.exchange(true)) return;
  for (PeerGroup *group : {local_.get(), lane_.get(), all_.get()}) {
    if (group != nullptr) group->AbortIdle();
  }
}

Status CpuCommunicator::Settle(Status status, OpContext &ctx) {
  if (status.ok() || ctx.lost_rank < 0) return status;
  for (PeerGroup *group : {local_.get(), lane_.get(), all_.get()}) {
    if (group != nullptr) group->PeerLostElsewhere(ctx.lost_rank, ctx.lost_detail, ctx);
  }
  return status;
}

Status CpuCommunicator::RunAllReduce(const TensorView &in, const TensorView &out, ReduceOp op,
                                     OpContext &ctx) {
  return Guarded(ctx, [&] { return AllReduceOnGroups(in, out, op, ctx); });
}

Status CpuCommunicator::AllReduceOnGroups(const TensorView &in, const TensorView &out, ReduceOp op,
                                          OpContext &ctx) {
  const ReduceOp reduce = op == ReduceOp::kAvg ? ReduceOp::kSum : op;
  if (world_size() == 1) {
    if (in.data != out.data && in.numel > 0) std::memmove(out.data, in.data, in.bytes());
  } else if (single_host()) {
    TRAIN_RETURN_IF_ERROR(local_->AllReduce(in.data, out.data, in.numel, in.dtype, reduce, ctx));
  } else {
    // A rank alone on its host starts from its own input.
    if (local_) {
      TRAIN_RETURN_IF_ERROR(local_->AllReduce(in.data, out.data, in.numel, in.dtype, reduce, ctx));
    } else if (in.data != out.data && in.numel > 0) {
      std::memmove(out.data, in.data, in.bytes());
    }
    TRAIN_RETURN_IF_ERROR(HierarchicalAllReduce(out, reduce, ctx));
  }
  if (op == ReduceOp::kAvg) DivideBy(out.dtype, out.data, out.numel, world_size());
  return Status::Ok();
}

// `out` holds this host's sum; leaves the sum over hosts in it.
Status CpuCommunicator::HierarchicalAllReduce(const TensorView &out, ReduceOp op, OpContext &ctx) {
  const std::size_t esize = DTypeSize(out.dtype);
  if (!topology_.Uniform()) {
    if (lane_) {
      TRAIN_RETURN_IF_ERROR(lane_->AllReduce(out.data, out.data, out.numel, out.dtype, op, ctx));
    }
    return local_ ? local_->Broadcast(out.data, out.bytes(), 0, ctx) : Status::Ok();
  }
  if (!local_) return lane_->AllReduce(out.data, out.data, out.numel, out.dtype, op, ctx);
  // Local rank l reduces slice l across hosts; then the slices are gathered on
  // every rank.
  const std::uint64_t lanes = static_cast<std::uint64_t>(topology_.local_size());
  const std::uint64_t slice = (out.numel + lanes - 1) / lanes;
  const std::uint64_t begin = std::min(out.numel, slice * topology_.local);
  const std::uint64_t end = std::min(out.numel, begin + slice);
  if (end > begin) {
    char *part = Bytes(out) + begin * esize;
    TRAIN_RETURN_IF_ERROR(lane_->AllReduce(part, part, end - begin, out.dtype, op, ctx));
  }
  scratch_.resize(slice * lanes * esize);
  char *mine = scratch_.data() + slice * topology_.local * esize;
  if (end > begin) std::memcpy(mine, Bytes(out) + begin * esize, (end - begin) * esize);
  TRAIN_RETURN_IF_ERROR(local_->AllGather(mine, scratch_.data(), slice * esize, ctx));
  if (out.numel > 0) std::memcpy(out.data, scratch_.data(), out.bytes());
  return Status::Ok();
}

Status CpuCommunicator::RunReduceScatter(const TensorView &in, const TensorView &out, ReduceOp op,
                                         OpContext &ctx) {
  return Guarded(ctx, [&]() -> Status {
    const ReduceOp reduce = op == ReduceOp::kAvg ? ReduceOp::kSum : op;
    if (world_size() == 1) {
      if (in.data != out.data && out.numel > 0) std::memmove(out.data, in.data, out.bytes());
    } else {
      TRAIN_RETURN_IF_ERROR(
          flat()->ReduceScatter(in.data, out.data, out.numel, out.dtype, reduce, ctx));
    }
    if (op == ReduceOp::kAvg) DivideBy(out.dtype, out.data, out.numel, world_size());
    return Status::Ok();
  });
}

Status CpuCommunicator::RunAllGather(const TensorView &in, const TensorView &out, OpContext &ctx) {
  return Guarded(ctx, [&]() -> Status {
    if (world_size() == 1) {
      if (in.data != out.data && in.numel > 0) std::memmove(out.data, in.data, in.bytes());
      return Status::Ok();
    }
    return flat()->AllGather(in.data, out.data, in.bytes(), ctx);
  });
}

Status CpuCommunicator::RunBroadcast(const TensorView &inout, int root, OpContext &ctx) {
  return Guarded(ctx, [&]() -> Status {
    if (world_size() == 1) return Status::Ok();
    // On one host the members are the ranks in order, so the root's member index
    // is its rank.
    return flat()->Broadcast(inout.data, inout.bytes(), root, ctx);
  });
}

Status CpuCommunicator::RunBarrier(OpContext &ctx) {
  return Guarded(ctx, [&]() -> Status {
    if (world_size() == 1) return Status::Ok();
    return flat()->Barrier(ctx);
  });
}

}  // namespace

Result<std::unique_ptr<Communicator>> CreateCpuCommunicator(const BackendArgs &args) {
  auto comm = std::make_unique<CpuCommunicator>(args);
  TRAIN_RETURN_IF_ERROR(comm->Connect().WithContext(
      "creating the cpu communicator \"" + args.options.name + "\" (rank " +
      std::to_string(args.rank) + " of " + std::to_string(args.world_size) + ")"));
  return std::unique_ptr<Communicator>(std::move(comm));
}

}  // namespace train::internal
