#include "cpu/tcp_group.h"

#include <chrono>
#include <cstring>
#include <utility>

#include "cpu/tcp_algorithms.h"
#include "cpu/tcp_engine.h"
#include "cpu/tcp_mesh.h"

namespace train::internal {
namespace {

// Messages up to this size take the latency-optimal algorithms; larger ones the ring or chain.
// Measured over loopback with 2 and 4 members: recursive doubling is faster up to 128 KiB,
// the ring from 256 KiB.
constexpr std::size_t kSmallMessageBytes = 128 << 10;
// How long small ops poll before sleeping: over loopback a 4 KiB all-reduce of 2 members took
// 19 us sleeping in poll at once, 7 us polling 10-20 us first (and used less CPU).
constexpr std::chrono::microseconds kLatencySpin{20};

class TcpGroup final : public PeerGroup {
 public:
  TcpGroup(const TcpGroupConfig& config, std::vector<TcpLink> links)
      : deterministic_(config.deterministic),
        chunk_bytes_(config.chunk_bytes > 0 ? config.chunk_bytes : kTcpDefaultChunkBytes),
        engine_(config.member, std::move(links)) {}

  int rank() const override { return engine_.member(); }
  int size() const override { return engine_.size(); }
  int comm_rank(int member) const override { return engine_.comm_rank(member); }

  Status AllReduce(const void* in, void* out, std::uint64_t count, DType dtype, ReduceOp op,
                   OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(Begin(op, ctx));
    const auto* source = static_cast<const std::byte*>(in);
    auto* result = static_cast<std::byte*>(out);
    const std::size_t bytes = count * DTypeSize(dtype);
    if (size() == 1) return Copy(source, result, bytes);
    TcpOp run = MakeOp(ctx, bytes);
    if (deterministic_) return OwnerAllReduce(run, source, result, count, dtype, op);
    if (bytes <= kSmallMessageBytes) {
      return RecursiveDoublingAllReduce(run, source, result, count, dtype, op);
    }
    return RingAllReduce(run, source, result, count, dtype, op);
  }

  Status ReduceScatter(const void* in, void* out, std::uint64_t count, DType dtype, ReduceOp op,
                       OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(Begin(op, ctx));
    const auto* source = static_cast<const std::byte*>(in);
    auto* result = static_cast<std::byte*>(out);
    const std::size_t block = count * DTypeSize(dtype);
    if (size() == 1) return Copy(source, result, block);
    TcpOp run = MakeOp(ctx, block * static_cast<std::size_t>(size()));
    if (deterministic_ || block * static_cast<std::size_t>(size()) <= kSmallMessageBytes) {
      return OwnerReduceScatter(run, source, result, count, dtype, op);
    }
    return RingReduceScatter(run, source, result, count, dtype, op);
  }

  Status AllGather(const void* in, void* out, std::uint64_t bytes, OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(engine_.BeginOp());
    const auto* source = static_cast<const std::byte*>(in);
    auto* result = static_cast<std::byte*>(out);
    if (size() == 1) return Copy(source, result, bytes);
    TcpOp run = MakeOp(ctx, bytes * static_cast<std::size_t>(size()));
    if (bytes * static_cast<std::size_t>(size()) <= kSmallMessageBytes) {
      return DirectAllGather(run, source, result, bytes);
    }
    return RingAllGather(run, source, result, bytes);
  }

  Status Broadcast(void* inout, std::uint64_t bytes, int root, OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(engine_.BeginOp());
    if (root < 0 || root >= size()) {
      return InvalidArgumentError(ctx.op.Describe() + ": root member " + std::to_string(root) +
                                  " is not in a group of " + std::to_string(size()));
    }
    if (size() == 1) return Status::Ok();
    TcpOp run = MakeOp(ctx, bytes);
    auto* data = static_cast<std::byte*>(inout);
    if (bytes <= kSmallMessageBytes) return TreeBroadcast(run, data, bytes, root);
    return ChainBroadcast(run, data, bytes, root);
  }

  Status Barrier(OpContext& ctx) override {
    TRAIN_RETURN_IF_ERROR(engine_.BeginOp());
    TcpOp run = MakeOp(ctx, 0);
    return DisseminationBarrier(run);
  }

  void PeerLostElsewhere(int rank, const std::string& detail, OpContext& ctx) override {
    engine_.PeerLostElsewhere(rank, detail, ctx);
  }
  void AbortIdle() override { engine_.AbortIdle(); }

 private:
  // Ops of up to kSmallMessageBytes in all are latency-bound: they spin before sleeping.
  TcpOp MakeOp(OpContext& ctx, std::size_t message_bytes) {
    return TcpOp{engine_, buffers_, ctx, chunk_bytes_,
                 message_bytes <= kSmallMessageBytes ? kLatencySpin : std::chrono::microseconds(0)};
  }

  Status Begin(ReduceOp op, const OpContext& ctx) {
    // The communicator turns an average into a sum and a division by its own world size.
    if (op == ReduceOp::kAvg) {
      return InvalidArgumentError(ctx.op.Describe() +
                                  ": a TCP group reduces with sum, min, max or prod, not avg");
    }
    return engine_.BeginOp();
  }

  static Status Copy(const std::byte* in, std::byte* out, std::size_t bytes) {
    if (in != out && bytes > 0) std::memcpy(out, in, bytes);
    return Status::Ok();
  }

  const bool deterministic_;
  const std::size_t chunk_bytes_;
  TcpEngine engine_;
  TcpBuffers buffers_;
};

}  // namespace

Result<std::unique_ptr<PeerGroup>> CreateTcpGroup(const TcpGroupConfig& config) {
  TRAIN_ASSIGN_OR_RETURN(std::vector<TcpLink> links, ConnectTcpMesh(config));
  return std::unique_ptr<PeerGroup>(std::make_unique<TcpGroup>(config, std::move(links)));
}

}  // namespace train::internal
