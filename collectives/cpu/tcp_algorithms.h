// The TCP group's algorithms, each collective over the group and run on the engine. Ring and
// chain forms move large messages at link bandwidth; recursive doubling, direct exchange, a
// binomial tree and dissemination take the fewest hops for small ones; owner reduction gives
// results that do not depend on message or chunk size.
#ifndef TRAIN_COLLECTIVES_CPU_TCP_ALGORITHMS_H_
#define TRAIN_COLLECTIVES_CPU_TCP_ALGORITHMS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "cpu/tcp_engine.h"

namespace train::internal {

// Buffers kept from op to op, so that steady-state ops allocate nothing.
class TcpBuffers {
 public:
  std::span<std::byte> Scratch(std::size_t bytes) { return Grow(scratch_, bytes); }
  std::span<std::byte> Workspace(std::size_t bytes) { return Grow(workspace_, bytes); }

 private:
  struct Buffer {
    std::unique_ptr<std::byte[]> data;
    std::size_t bytes = 0;
  };
  static std::span<std::byte> Grow(Buffer& buffer, std::size_t bytes);

  Buffer scratch_;
  Buffer workspace_;
};

// What an algorithm runs with.
struct TcpOp {
  TcpEngine& engine;
  TcpBuffers& buffers;
  OpContext& ctx;
  std::size_t chunk_bytes;  // reduction granularity (rounded down to whole elements)
  // Latency-bound ops poll this long before sleeping (see TcpEngine::Run).
  std::chrono::microseconds spin{0};

  Status Run(TcpTransfer& transfer) { return engine.Run(transfer, ctx, spin); }

  int member() const { return engine.member(); }
  int size() const { return engine.size(); }
  // The member `steps` places after this one around the ring (negative: before).
  int Around(int steps) const;
  // chunk_bytes as a whole number of `dtype` elements, at least one.
  std::size_t ChunkFor(DType dtype) const;
};

// Element offsets of `parts` balanced blocks of `count` (parts + 1 entries).
std::vector<std::uint64_t> SplitBlocks(std::uint64_t count, int parts);

// Large messages.
Status RingAllReduce(TcpOp& op, const std::byte* in, std::byte* out, std::uint64_t count,
                     DType dtype, ReduceOp reduce);
Status RingReduceScatter(TcpOp& op, const std::byte* in, std::byte* out, std::uint64_t count,
                         DType dtype, ReduceOp reduce);
Status RingAllGather(TcpOp& op, const std::byte* in, std::byte* out, std::size_t bytes);
Status ChainBroadcast(TcpOp& op, std::byte* data, std::size_t bytes, int root);

// Small messages.
Status RecursiveDoublingAllReduce(TcpOp& op, const std::byte* in, std::byte* out,
                                  std::uint64_t count, DType dtype, ReduceOp reduce);
Status DirectAllGather(TcpOp& op, const std::byte* in, std::byte* out, std::size_t bytes);
Status TreeBroadcast(TcpOp& op, std::byte* data, std::size_t bytes, int root);
Status DisseminationBarrier(TcpOp& op);

// Owners reduce in member order: deterministic, and two hops for small reduce-scatters.
Status OwnerAllReduce(TcpOp& op, const std::byte* in, std::byte* out, std::uint64_t count,
                      DType dtype, ReduceOp reduce);
Status OwnerReduceScatter(TcpOp& op, const std::byte* in, std::byte* out, std::uint64_t count,
                          DType dtype, ReduceOp reduce);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_TCP_ALGORITHMS_H_
