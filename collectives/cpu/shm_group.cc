#include "cpu/shm_group.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "cpu/shm_copy.h"
#include "cpu/shm_ops.h"
#include "cpu/shm_pipeline.h"
#include "cpu/shm_segment.h"
#include "cpu/shm_sync.h"

namespace train::internal {
namespace {

using Clock = std::chrono::steady_clock;

// Chunks in flight: enough for the stages of consecutive chunks to overlap and for a member
// that is ahead to keep going while another catches up.
constexpr int kSlots = 4;
// Messages whose output is at least this large bypass the cache on the way out.
constexpr std::uint64_t kStreamBytes = 4 << 20;
// The smallest chunk a message is cut into when the slots are larger.
constexpr std::uint64_t kMinChunkBytes = 128 << 10;
// The largest slot chunk, whatever the config asks.
constexpr std::size_t kMaxChunkBytes = 1 << 20;

int CpusAvailable() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online) : 1;
}

std::string DescribeMember(const ShmGroupConfig& config, int member) {
  return "rank " + std::to_string(config.comm_ranks[member]);
}

Status CheckReduceOp(ReduceOp op, const OpContext& ctx) {
  if (op == ReduceOp::kAvg) {
    return InvalidArgumentError(ctx.op.Describe() +
                                ": the shared-memory group reduces sum, min, max or prod "
                                "(avg is a sum and a division)");
  }
  return Status::Ok();
}

Status BadRoot(int root, int size, const OpContext& ctx) {
  return InvalidArgumentError(ctx.op.Describe() + ": root " + std::to_string(root) +
                              " is not a member of the shared-memory group of " +
                              std::to_string(size));
}

// A group of one: every op is a local copy.
class SoloGroup final : public PeerGroup {
 public:
  explicit SoloGroup(int comm_rank) : comm_rank_(comm_rank) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int comm_rank(int) const override { return comm_rank_; }

  Status AllReduce(const void* in, void* out, std::uint64_t count, DType dtype, ReduceOp op,
                   OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(Check(ctx));
    TRAIN_RETURN_IF_ERROR(CheckReduceOp(op, ctx));
    if (in != out && count > 0) std::memmove(out, in, count * DTypeSize(dtype));
    return Status::Ok();
  }
  Status ReduceScatter(const void* in, void* out, std::uint64_t count, DType dtype, ReduceOp op,
                       OpContext& ctx) override {
    return AllReduce(in, out, count, dtype, op, ctx);
  }
  Status AllGather(const void* in, void* out, std::uint64_t bytes, OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(Check(ctx));
    if (in != out && bytes > 0) std::memmove(out, in, bytes);
    return Status::Ok();
  }
  Status Broadcast(void*, std::uint64_t, int root, OpContext& ctx) override {
    if (root != 0) return BadRoot(root, 1, ctx);
    return Check(ctx);
  }
  Status Barrier(OpContext& ctx) override { return Check(ctx); }
  void PeerLostElsewhere(int, const std::string&, OpContext&) override {}
  void AbortIdle() override {}

 private:
  static Status Check(const OpContext& ctx) {
    return ctx.Aborted() ? ctx.StopStatus({}) : Status::Ok();
  }
  int comm_rank_;
};

class ShmGroup final : public PeerGroup {
 public:
  ShmGroup(const ShmGroupConfig& config, std::unique_ptr<ShmSegment> segment)
      : member_(config.member),
        size_(config.size),
        comm_ranks_(config.comm_ranks),
        segment_(std::move(segment)),
        sync_(segment_.get(), member_, comm_ranks_, size_ > CpusAvailable()) {}
  ~ShmGroup() override { sync_.Close(); }

  int rank() const override { return member_; }
  int size() const override { return size_; }
  int comm_rank(int member) const override { return comm_ranks_[member]; }

  Status AllReduce(const void* in, void* out, std::uint64_t count, DType dtype, ReduceOp op,
                   OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(CheckReduceOp(op, ctx));
    if (count == 0) return Start(ctx);
    const std::uint64_t bytes = count * DTypeSize(dtype);
    auto pipeline = MakeAllReduce(Target(bytes, bytes), in, out, count, dtype, op);
    return Run(*pipeline, ctx);
  }

  Status ReduceScatter(const void* in, void* out, std::uint64_t count, DType dtype, ReduceOp op,
                       OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(CheckReduceOp(op, ctx));
    if (count == 0) return Start(ctx);
    const std::uint64_t bytes = count * DTypeSize(dtype);
    auto pipeline = MakeReduceScatter(Target(bytes * size_, bytes), in, out, count, dtype, op);
    return Run(*pipeline, ctx);
  }

  Status AllGather(const void* in, void* out, std::uint64_t bytes, OpContext& ctx) override {
    if (bytes == 0) return Start(ctx);
    auto pipeline = MakeAllGather(Target(bytes, bytes * size_), in, out, bytes);
    return Run(*pipeline, ctx);
  }

  Status Broadcast(void* inout, std::uint64_t bytes, int root, OpContext& ctx) override {
    if (root < 0 || root >= size_) return BadRoot(root, size_, ctx);
    if (bytes == 0) return Start(ctx);
    auto pipeline = MakeBroadcast(Target(bytes, bytes), inout, bytes, root);
    return Run(*pipeline, ctx);
  }

  Status Barrier(OpContext& ctx) override {
    auto pipeline = MakeBarrier();
    return Run(*pipeline, ctx);
  }

  void AbortIdle() override {
    if (!broken_.ok()) return;
    broken_ = AbortedError("the communicator was aborted");
    sync_.Abort();
  }

  void PeerLostElsewhere(int rank, const std::string& detail, OpContext& ctx) override {
    if (!broken_.ok()) return;
    broken_ = ctx.PeerLost(rank, detail);
    sync_.RecordLostElsewhere(rank);
    sync_.Leave();
  }

 private:
  // `slot_bytes`: what one member puts through its slot in the whole op.
  ShmOpTarget Target(std::uint64_t slot_bytes, std::uint64_t output_bytes) const {
    ShmOpTarget target;
    target.segment = segment_.get();
    target.member = member_;
    target.size = size_;
    // Messages of a few slots are cut finer, so that their stages still overlap (a 1 MiB
    // all-reduce of 2 members is ~20% faster in 128 KiB chunks than in 512 KiB ones).
    const std::uint64_t eighth = (slot_bytes / 8 + kCacheLine - 1) / kCacheLine * kCacheLine;
    target.chunk_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(
        segment_->layout().chunk_bytes, std::max<std::uint64_t>(kMinChunkBytes, eighth)));
    target.stream = output_bytes >= kStreamBytes;
    return target;
  }

  // What every op checks first: a broken group, an abort.
  Status Start(OpContext& ctx) {
    if (!broken_.ok()) return broken_;
    return sync_.CheckAbort(ctx);
  }

  Status Run(ShmPipeline& pipeline, OpContext& ctx) {
    TRAIN_RETURN_IF_ERROR(Start(ctx));
    Status status = RunPipeline(sync_, segment_->layout().slots, &seq_, pipeline, ctx);
    StreamFence();
    // Mid-op failures leave the counters out of step with the other members': no later op
    // can run on this group.
    if (!status.ok()) {
      broken_ = status;
      sync_.Leave();
    }
    return status;
  }

  int member_;
  int size_;
  std::vector<int> comm_ranks_;
  std::unique_ptr<ShmSegment> segment_;
  ShmSync sync_;
  std::uint32_t seq_ = 0;  // global number of the next op's first chunk
  Status broken_;
};

// Waits until every member recorded its pid and the last one removed the name (it counts once
// more for that); DEADLINE_EXCEEDED naming the members that did not attach.
Status WaitForAttach(const ShmGroupConfig& config, ShmSegment& segment) {
  for (;;) {
    if (segment.header()->attached.load(std::memory_order_acquire) >=
        static_cast<std::uint32_t>(config.size) + 1) {
      return Status::Ok();
    }
    if (config.aborted != nullptr && config.aborted->load()) {
      return AbortedError("shared memory: joining the group was aborted");
    }
    if (Clock::now() >= config.deadline) {
      std::string missing;
      for (int m = 0; m < config.size; ++m) {
        if (segment.control(m)->pid.load(std::memory_order_acquire) != 0) continue;
        missing += (missing.empty() ? "" : ", ") + DescribeMember(config, m);
      }
      return DeadlineExceededError("shared memory: " + missing +
                                   " did not attach to the segment in time (were they started "
                                   "on this host, with the same communicator name?)");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

Status CheckConfig(const ShmGroupConfig& config) {
  if (config.size < 1 || config.member < 0 || config.member >= config.size) {
    return InvalidArgumentError("shared memory: member " + std::to_string(config.member) +
                                " of a group of " + std::to_string(config.size));
  }
  if (static_cast<int>(config.comm_ranks.size()) != config.size) {
    return InvalidArgumentError("shared memory: comm_ranks has " +
                                std::to_string(config.comm_ranks.size()) +
                                " entries for a group of " + std::to_string(config.size));
  }
  if (config.size > 1 && config.store == nullptr) {
    return InvalidArgumentError("shared memory: a group of several members needs a store");
  }
  return Status::Ok();
}

}  // namespace

std::size_t ShmDefaultChunkBytes(int size) {
  // The ring holds kSlots * (size + 1) chunks: about 4 to 6 MiB, well within the last-level
  // cache (measured on 2 cores: 512 KiB beats 256 KiB by ~10% for 2 members; 1 MiB, which
  // overflows the 1 MiB L2 per chunk, is twice as slow).
  if (size <= 2) return 512 << 10;
  if (size <= 4) return 256 << 10;
  if (size <= 8) return 128 << 10;
  return 64 << 10;
}

Result<std::unique_ptr<PeerGroup>> CreateShmGroup(const ShmGroupConfig& config) {
  TRAIN_RETURN_IF_ERROR(CheckConfig(config));
  if (config.size == 1) return std::unique_ptr<PeerGroup>(new SoloGroup(config.comm_ranks[0]));

  const std::string key = config.key_prefix + "segment";
  std::unique_ptr<ShmSegment> segment;
  if (config.member == 0) {
    ShmLayout layout;
    layout.size = config.size;
    layout.slots = kSlots;
    // The chunk option is shared with TCP, where large chunks make sense: here it is capped,
    // so the segment stays a few MiB per member.
    const std::size_t chunk = config.chunk_bytes != 0 ? std::min(config.chunk_bytes, kMaxChunkBytes)
                                                      : ShmDefaultChunkBytes(config.size);
    // Every member needs a share of every chunk: at least a cache line each.
    layout.chunk_bytes = (std::max<std::size_t>(chunk, kCacheLine * config.size) + kCacheLine - 1) /
                         kCacheLine * kCacheLine;
    TRAIN_ASSIGN_OR_RETURN(segment, ShmSegment::Create(layout));
    Status published = config.store->Set(key, segment->name());
    if (!published.ok()) {
      (void)ShmSegment::Unlink(segment->name());
      return published.WithContext("shared memory: publishing the segment name");
    }
  } else {
    const auto left = std::chrono::duration_cast<Milliseconds>(config.deadline - Clock::now());
    auto name = config.store->Get(key, std::max(left, Milliseconds(0)));
    if (!name.ok()) {
      return name.status().WithContext("shared memory: waiting for " + DescribeMember(config, 0) +
                                       " to publish the segment");
    }
    TRAIN_ASSIGN_OR_RETURN(segment, ShmSegment::Open(*name));
    if (segment->layout().size != config.size) {
      return FailedPreconditionError("shared memory: segment " + *name + " is for " +
                                     std::to_string(segment->layout().size) +
                                     " members, this group has " + std::to_string(config.size) +
                                     " (two communicators with the same name?)");
    }
  }

  ShmHeader* header = segment->header();
  ShmMemberControl* self = segment->control(config.member);
  self->pid_namespace.store(PidNamespace(), std::memory_order_relaxed);
  self->pid.store(::getpid(), std::memory_order_release);
  const std::uint32_t attached = header->attached.fetch_add(1, std::memory_order_acq_rel) + 1;
  // The last member in removes the name, then counts once more: no member returns before the
  // name is gone, and from then on the segment lives exactly as long as some member maps it,
  // whatever happens to the processes.
  if (attached == static_cast<std::uint32_t>(config.size)) {
    const Status unlinked = ShmSegment::Unlink(segment->name());
    header->attached.fetch_add(1, std::memory_order_acq_rel);
    TRAIN_RETURN_IF_ERROR(unlinked);
  }
  Status all_in = WaitForAttach(config, *segment);
  if (!all_in.ok()) {
    (void)ShmSegment::Unlink(segment->name());
    return all_in;
  }
  if (config.member == 0) (void)config.store->Delete(key);
  return std::unique_ptr<PeerGroup>(new ShmGroup(config, std::move(segment)));
}

}  // namespace train::internal
