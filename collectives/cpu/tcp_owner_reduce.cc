// Owner reduction: every member sends each owner its part of the owner's block; the owner
// reduces a chunk as soon as every member's part of it arrived, always in member order.
#include <algorithm>
#include <utility>

#include "cpu/reduce_kernels.h"
#include "cpu/tcp_algorithms.h"
#include "cpu/tcp_transfers.h"

namespace train::internal {

OwnerReduceTransfer::OwnerReduceTransfer(OwnerReducePlan plan, std::size_t chunk_bytes, int slots,
                                         std::span<std::byte> scratch)
    : plan_(std::move(plan)),
      chunk_bytes_(chunk_bytes),
      slots_(slots),
      state_(static_cast<std::size_t>(plan_.size)),
      sources_(static_cast<std::size_t>(plan_.size)) {
  TRAIN_CHECK(chunk_bytes_ > 0 && chunk_bytes_ % DTypeSize(plan_.dtype) == 0);
  const std::size_t per_peer = chunk_bytes_ * static_cast<std::size_t>(slots_);
  TRAIN_CHECK_GE(scratch.size(), per_peer * static_cast<std::size_t>(plan_.size - 1));
  std::size_t next = 0;
  for (int m = 0; m < plan_.size; ++m) {
    if (m == plan_.member) continue;
    peers_.push_back(m);
    state_[static_cast<std::size_t>(m)].scratch = scratch.data() + next;
    next += per_peer;
  }
  chunks_ = (OwnBytes() + chunk_bytes_ - 1) / chunk_bytes_;
}

std::size_t OwnerReduceTransfer::OwnBytes() const {
  return plan_.block_bytes[static_cast<std::size_t>(plan_.member)];
}

std::size_t OwnerReduceTransfer::ChunkLength(std::size_t chunk) const {
  return std::min(chunk_bytes_, OwnBytes() - chunk * chunk_bytes_);
}

std::span<const std::byte> OwnerReduceTransfer::SendWindow(int member) {
  const Peer& peer = state_[static_cast<std::size_t>(member)];
  const std::size_t theirs = plan_.block_bytes[static_cast<std::size_t>(member)];
  if (peer.sent < theirs) {
    return {plan_.contributions[static_cast<std::size_t>(member)] + peer.sent, theirs - peer.sent};
  }
  if (plan_.gather.empty()) return {};
  // This member's result, as far as it is reduced.
  const std::size_t offset = peer.sent - theirs;
  if (offset >= reduced_bytes_) return {};
  return {plan_.own_result + offset, reduced_bytes_ - offset};
}

void OwnerReduceTransfer::Sent(int member, std::size_t bytes) {
  state_[static_cast<std::size_t>(member)].sent += bytes;
}

std::span<std::byte> OwnerReduceTransfer::RecvWindow(int member) {
  const Peer& peer = state_[static_cast<std::size_t>(member)];
  const std::size_t own = OwnBytes();
  if (peer.received < own) {
    const std::size_t chunk = peer.received / chunk_bytes_;
    // Its slots are full: wait until the slower members' parts of the oldest chunk arrive.
    if (chunk >= reduced_chunks_ + static_cast<std::size_t>(slots_)) return {};
    const std::size_t within = peer.received - chunk * chunk_bytes_;
    std::byte* slot = peer.scratch + (chunk % static_cast<std::size_t>(slots_)) * chunk_bytes_;
    return {slot + within, ChunkLength(chunk) - within};
  }
  if (plan_.gather.empty()) return {};
  const std::size_t offset = peer.received - own;
  const std::size_t theirs = plan_.block_bytes[static_cast<std::size_t>(member)];
  if (offset >= theirs) return {};
  return {plan_.gather[static_cast<std::size_t>(member)] + offset, theirs - offset};
}

void OwnerReduceTransfer::Received(int member, std::size_t bytes) {
  Peer& peer = state_[static_cast<std::size_t>(member)];
  const bool contribution = peer.received < OwnBytes();
  peer.received += bytes;
  if (contribution) ReduceReadyChunks();
}

void OwnerReduceTransfer::ReduceReadyChunks() {
  while (reduced_chunks_ < chunks_) {
    const std::size_t offset = reduced_chunks_ * chunk_bytes_;
    const std::size_t length = ChunkLength(reduced_chunks_);
    for (int m : peers_) {
      if (state_[static_cast<std::size_t>(m)].received < offset + length) return;
    }
    const std::size_t slot = (reduced_chunks_ % static_cast<std::size_t>(slots_)) * chunk_bytes_;
    for (int m = 0; m < plan_.size; ++m) {
      sources_[static_cast<std::size_t>(m)] =
          m == plan_.member ? plan_.contributions[static_cast<std::size_t>(m)] + offset
                            : state_[static_cast<std::size_t>(m)].scratch + slot;
    }
    ReduceMany(plan_.dtype, plan_.op, plan_.own_result + offset, sources_.data(), plan_.size,
               length / DTypeSize(plan_.dtype));
    ++reduced_chunks_;
    reduced_bytes_ += length;
  }
}

bool OwnerReduceTransfer::Done() const {
  const std::size_t own = OwnBytes();
  if (reduced_bytes_ != own) return false;
  for (int m : peers_) {
    const Peer& peer = state_[static_cast<std::size_t>(m)];
    const std::size_t theirs = plan_.block_bytes[static_cast<std::size_t>(m)];
    const bool gather = !plan_.gather.empty();
    if (peer.sent != theirs + (gather ? own : 0)) return false;
    if (peer.received != own + (gather ? theirs : 0)) return false;
  }
  return true;
}

namespace {

// Chunks in flight per peer: one arriving while the previous waits for slower members.
constexpr int kOwnerSlots = 2;

Status RunOwnerReduce(TcpOp& op, OwnerReducePlan plan) {
  const std::size_t own = plan.block_bytes[static_cast<std::size_t>(plan.member)];
  const std::size_t element = DTypeSize(plan.dtype);
  // No larger than this member's block needs (but whole elements, and at least one).
  const std::size_t chunk = std::min(op.ChunkFor(plan.dtype), std::max(own, element));
  const std::size_t scratch =
      chunk * kOwnerSlots * static_cast<std::size_t>(std::max(plan.size - 1, 1));
  OwnerReduceTransfer transfer(std::move(plan), chunk, kOwnerSlots, op.buffers.Scratch(scratch));
  return op.Run(transfer);
}

}  // namespace

Status OwnerAllReduce(TcpOp& op, const std::byte* in, std::byte* out, std::uint64_t count,
                      DType dtype, ReduceOp reduce) {
  const std::size_t element = DTypeSize(dtype);
  const std::vector<std::uint64_t> blocks = SplitBlocks(count, op.size());
  OwnerReducePlan plan;
  plan.member = op.member();
  plan.size = op.size();
  plan.dtype = dtype;
  plan.op = reduce;
  for (int b = 0; b < op.size(); ++b) {
    const std::size_t offset = blocks[static_cast<std::size_t>(b)] * element;
    plan.contributions.push_back(in + offset);
    plan.block_bytes.push_back(
        (blocks[static_cast<std::size_t>(b) + 1] - blocks[static_cast<std::size_t>(b)]) * element);
    plan.gather.push_back(out + offset);
  }
  plan.own_result = plan.gather[static_cast<std::size_t>(op.member())];
  return RunOwnerReduce(op, std::move(plan));
}

Status OwnerReduceScatter(TcpOp& op, const std::byte* in, std::byte* out, std::uint64_t count,
                          DType dtype, ReduceOp reduce) {
  const std::size_t block = count * DTypeSize(dtype);
  OwnerReducePlan plan;
  plan.member = op.member();
  plan.size = op.size();
  plan.dtype = dtype;
  plan.op = reduce;
  for (int b = 0; b < op.size(); ++b) {
    plan.contributions.push_back(in + block * static_cast<std::size_t>(b));
    plan.block_bytes.push_back(block);
  }
  plan.own_result = out;
  return RunOwnerReduce(op, std::move(plan));
}

}  // namespace train::internal
