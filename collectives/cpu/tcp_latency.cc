// Algorithms for small messages, where the number of hops matters more than bandwidth.
#include <cstring>

#include "cpu/reduce_kernels.h"
#include "cpu/tcp_algorithms.h"
#include "cpu/tcp_transfers.h"

namespace train::internal {
namespace {

int LargestPowerOfTwoAtMost(int n) {
  int power = 1;
  while (power * 2 <= n) power *= 2;
  return power;
}

Status SendTo(TcpOp& op, int member, const void* data, std::size_t bytes) {
  ExchangeTransfer transfer;
  transfer.AddSend(member, data, bytes);
  return op.Run(transfer);
}

Status RecvFrom(TcpOp& op, int member, void* data, std::size_t bytes) {
  ExchangeTransfer transfer;
  transfer.AddRecv(member, data, bytes);
  return op.Run(transfer);
}

}  // namespace

Status RecursiveDoublingAllReduce(TcpOp& op, const std::byte* in, std::byte* out,
                                  std::uint64_t count, DType dtype, ReduceOp reduce) {
  const int n = op.size();
  const int r = op.member();
  const std::size_t bytes = count * DTypeSize(dtype);
  if (out != in && bytes > 0) std::memcpy(out, in, bytes);
  std::byte* theirs = op.buffers.Scratch(bytes).data();
  // Both partners reduce the same two operands in the same order (lower member first), so
  // every member ends with bitwise the same result.
  auto combine = [&](bool theirs_first) {
    const void* sources[2] = {theirs_first ? theirs : out, theirs_first ? out : theirs};
    ReduceMany(dtype, reduce, out, sources, 2, count);
  };
  // Sizes that are not a power of two: the first 2*extra members pair up, the even one hands
  // its data to the odd one and sits out until the result comes back.
  const int powered = LargestPowerOfTwoAtMost(n);
  const int extra = n - powered;
  int virtual_rank = r - extra;
  if (r < 2 * extra) {
    if (r % 2 == 0) {
      TRAIN_RETURN_IF_ERROR(SendTo(op, r + 1, out, bytes));
      return RecvFrom(op, r + 1, out, bytes);
    }
    TRAIN_RETURN_IF_ERROR(RecvFrom(op, r - 1, theirs, bytes));
    combine(/*theirs_first=*/true);
    virtual_rank = r / 2;
  }
  auto member_of = [&](int v) { return v < extra ? 2 * v + 1 : v + extra; };
  for (int mask = 1; mask < powered; mask <<= 1) {
    const int partner_virtual = virtual_rank ^ mask;
    const int partner = member_of(partner_virtual);
    ExchangeTransfer transfer;
    transfer.AddSend(partner, out, bytes);
    transfer.AddRecv(partner, theirs, bytes);
    TRAIN_RETURN_IF_ERROR(op.Run(transfer));
    combine(/*theirs_first=*/partner_virtual < virtual_rank);
  }
  if (r < 2 * extra) return SendTo(op, r - 1, out, bytes);
  return Status::Ok();
}

Status DirectAllGather(TcpOp& op, const std::byte* in, std::byte* out, std::size_t bytes) {
  std::byte* own = out + bytes * static_cast<std::size_t>(op.member());
  if (own != in && bytes > 0) std::memcpy(own, in, bytes);
  ExchangeTransfer transfer;
  for (int m = 0; m < op.size(); ++m) {
    if (m == op.member()) continue;
    transfer.AddSend(m, in, bytes);
    transfer.AddRecv(m, out + bytes * static_cast<std::size_t>(m), bytes);
  }
  return op.Run(transfer);
}

Status TreeBroadcast(TcpOp& op, std::byte* data, std::size_t bytes, int root) {
  const int n = op.size();
  // Binomial tree over positions relative to the root: position v receives from v minus its
  // lowest set bit and sends to v + 2^k for every 2^k below that bit.
  const int position = ((op.member() - root) % n + n) % n;
  auto member_at = [&](int v) { return (v + root) % n; };
  int span = 1;
  while (span < n) span <<= 1;
  if (position != 0) {
    span = position & -position;
    TRAIN_RETURN_IF_ERROR(RecvFrom(op, member_at(position - span), data, bytes));
  }
  ExchangeTransfer transfer;
  for (int step = span / 2; step >= 1; step /= 2) {
    if (position + step < n) transfer.AddSend(member_at(position + step), data, bytes);
  }
  return op.Run(transfer);
}

Status DisseminationBarrier(TcpOp& op) {
  // After round k every member has heard, directly or not, from the 2^(k+1) - 1 before it.
  const std::byte token{1};
  std::byte received{0};
  for (int distance = 1; distance < op.size(); distance <<= 1) {
    ExchangeTransfer transfer;
    transfer.AddSend(op.Around(distance), &token, 1);
    transfer.AddRecv(op.Around(-distance), &received, 1);
    TRAIN_RETURN_IF_ERROR(op.Run(transfer));
  }
  return Status::Ok();
}

}  // namespace train::internal
