// Ring and chain algorithms for large messages, and what every TCP algorithm shares.
#include <algorithm>
#include <cstring>

#include "cpu/tcp_algorithms.h"
#include "cpu/tcp_transfers.h"

namespace train::internal {

std::span<std::byte> TcpBuffers::Grow(Buffer& buffer, std::size_t bytes) {
  if (buffer.bytes < bytes) {
    // Left uninitialized: every algorithm writes before it reads.
    const std::size_t grown = std::max(bytes, buffer.bytes + buffer.bytes / 2);
    buffer.data.reset(new std::byte[grown]);
    buffer.bytes = grown;
  }
  return {buffer.data.get(), bytes};
}

int TcpOp::Around(int steps) const {
  const int n = size();
  return ((member() + steps) % n + n) % n;
}

std::size_t TcpOp::ChunkFor(DType dtype) const {
  const std::size_t element = DTypeSize(dtype);
  return std::max(element, chunk_bytes / element * element);
}

std::vector<std::uint64_t> SplitBlocks(std::uint64_t count, int parts) {
  const auto n = static_cast<std::uint64_t>(parts);
  std::vector<std::uint64_t> offsets(static_cast<std::size_t>(parts) + 1);
  for (std::uint64_t b = 0; b <= n; ++b) offsets[b] = count / n * b + std::min(b, count % n);
  return offsets;
}

Status RingAllReduce(TcpOp& op, const std::byte* in, std::byte* out, std::uint64_t count,
                     DType dtype, ReduceOp reduce) {
  const int n = op.size();
  const std::size_t element = DTypeSize(dtype);
  const std::vector<std::uint64_t> blocks = SplitBlocks(count, n);
  auto offset = [&](int b) { return blocks[static_cast<std::size_t>(b)] * element; };
  auto length = [&](int b) {
    return (blocks[static_cast<std::size_t>(b) + 1] - blocks[static_cast<std::size_t>(b)]) *
           element;
  };
  RingPlan plan;
  plan.send_to = op.Around(1);
  plan.recv_from = op.Around(-1);
  plan.dtype = dtype;
  plan.op = reduce;
  // Reduce-scatter: at step s send block r-s (partly reduced), receive block r-s-1 and add
  // this member's part; after n-1 steps block r+1 is complete here.
  for (int s = 0; s + 1 < n; ++s) {
    const int sent = op.Around(-s);
    const int got = op.Around(-s - 1);
    plan.sends.push_back({(s == 0 ? in : out) + offset(sent), length(sent)});
    plan.recvs.push_back({out + offset(got), length(got), in + offset(got)});
  }
  // All-gather: pass the complete blocks on, starting with block r+1.
  for (int s = 0; s + 1 < n; ++s) {
    const int sent = op.Around(1 - s);
    const int got = op.Around(-s);
    plan.sends.push_back({out + offset(sent), length(sent)});
    plan.recvs.push_back({out + offset(got), length(got), nullptr});
  }
  RingTransfer transfer(std::move(plan), op.buffers.Scratch(op.ChunkFor(dtype)));
  return op.Run(transfer);
}

Status RingReduceScatter(TcpOp& op, const std::byte* in, std::byte* out, std::uint64_t count,
                         DType dtype, ReduceOp reduce) {
  const int n = op.size();
  const std::size_t block = count * DTypeSize(dtype);
  // Partial sums of other members' blocks pass through here on their way to their owners:
  // step s reduces into slot s % 2, which step s + 1 sends from. Step s + 2 reduces into the
  // same slot, each byte once step s + 1 has sent it.
  std::byte* slots = n > 2 ? op.buffers.Workspace(2 * block).data() : nullptr;
  RingPlan plan;
  plan.send_to = op.Around(1);
  plan.recv_from = op.Around(-1);
  plan.dtype = dtype;
  plan.op = reduce;
  // Shifted by one from the all-reduce ring, so that member r ends with block r.
  for (int s = 0; s + 1 < n; ++s) {
    const int sent = op.Around(-s - 1);
    const int got = op.Around(-s - 2);
    const bool last = s + 2 == n;
    const std::byte* previous = s == 0 ? in + block * static_cast<std::size_t>(sent)
                                       : slots + block * static_cast<std::size_t>((s - 1) % 2);
    plan.sends.push_back({previous, block});
    RingRecvSegment segment;
    segment.dst = last ? out : slots + block * static_cast<std::size_t>(s % 2);
    segment.bytes = block;
    segment.local = in + block * static_cast<std::size_t>(got);
    if (!last && s >= 2) {
      segment.reuses_sent_bytes = true;
      segment.send_position = block * static_cast<std::size_t>(s - 1);  // where step s-1 starts
    }
    plan.recvs.push_back(segment);
  }
  RingTransfer transfer(std::move(plan), op.buffers.Scratch(op.ChunkFor(dtype)));
  return op.Run(transfer);
}

Status RingAllGather(TcpOp& op, const std::byte* in, std::byte* out, std::size_t bytes) {
  const int n = op.size();
  std::byte* own = out + bytes * static_cast<std::size_t>(op.member());
  if (own != in && bytes > 0) std::memcpy(own, in, bytes);
  RingPlan plan;
  plan.send_to = op.Around(1);
  plan.recv_from = op.Around(-1);
  plan.dtype = DType::kUInt8;
  for (int s = 0; s + 1 < n; ++s) {
    const int sent = op.Around(-s);
    const int got = op.Around(-s - 1);
    plan.sends.push_back({s == 0 ? in : out + bytes * static_cast<std::size_t>(sent), bytes});
    plan.recvs.push_back({out + bytes * static_cast<std::size_t>(got), bytes, nullptr});
  }
  RingTransfer transfer(std::move(plan), op.buffers.Scratch(op.ChunkFor(DType::kUInt8)));
  return op.Run(transfer);
}

Status ChainBroadcast(TcpOp& op, std::byte* data, std::size_t bytes, int root) {
  const int n = op.size();
  const int position = ((op.member() - root) % n + n) % n;
  RingPlan plan;
  plan.dtype = DType::kUInt8;
  if (position + 1 < n) {
    plan.send_to = op.Around(1);
    plan.sends.push_back({data, bytes});
  }
  if (position > 0) {
    // Forward each byte as soon as it arrived.
    plan.recv_from = op.Around(-1);
    plan.recvs.push_back({data, bytes, nullptr});
    plan.first_send_ready = false;
  }
  RingTransfer transfer(std::move(plan), op.buffers.Scratch(op.ChunkFor(DType::kUInt8)));
  return op.Run(transfer);
}

}  // namespace train::internal
