// One transport's view of a set of ranks: the ranks of one host over shared memory, or ranks
// on several hosts over TCP. The CPU communicator composes groups (hierarchical when a job
// spans hosts with several ranks each). Every call is collective over the group, blocking, run
// on the communicator's progress thread, and returns when done, failed, aborted or expired
// (ctx). Reductions are kSum, kMin, kMax or kProd: the communicator turns kAvg into a sum and a
// division. Buffers are CPU memory; `in` may equal `out` (in place).
#ifndef TRAIN_COLLECTIVES_CPU_PEER_GROUP_H_
#define TRAIN_COLLECTIVES_CPU_PEER_GROUP_H_

#include <cstdint>
#include <vector>

#include "common/op_context.h"

namespace train::internal {

class PeerGroup {
 public:
  virtual ~PeerGroup() = default;

  // This rank's index in the group, the group's size, and the communicator rank of member i
  // (errors name communicator ranks).
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int comm_rank(int member) const = 0;

  // out[i] = reduce over members of in[i], `count` elements each.
  virtual Status AllReduce(const void* in, void* out, std::uint64_t count, DType dtype, ReduceOp op,
                           OpContext& ctx) = 0;
  // `in` holds size() blocks of `count` elements; member r gets block r reduced into `out`.
  virtual Status ReduceScatter(const void* in, void* out, std::uint64_t count, DType dtype,
                               ReduceOp op, OpContext& ctx) = 0;
  // `out` receives size() blocks of `bytes`; block r is member r's `in` (`in` may alias
  // block rank() of `out`).
  virtual Status AllGather(const void* in, void* out, std::uint64_t bytes, OpContext& ctx) = 0;
  // Every member's `inout` receives member `root`'s.
  virtual Status Broadcast(void* inout, std::uint64_t bytes, int root, OpContext& ctx) = 0;
  virtual Status Barrier(OpContext& ctx) = 0;

  // Another group of this rank's communicator lost communicator rank `rank` (`detail`: how)
  // during the op `ctx` describes: this group breaks too, and the members that still wait on
  // this one (which leaves the op) are told that `rank` is to blame, not this rank. A
  // hierarchical all-reduce whose shared-memory part lost a rank thus fails on the other
  // hosts naming that rank. No-op when this group already failed.
  virtual void PeerLostElsewhere(int rank, const std::string& detail, OpContext& ctx) = 0;
  // This rank aborted its communicator while no op ran on the group: the group breaks, and
  // members blocked in an op that waits on this one fail at once, naming it, instead of at
  // their deadline. (An op that runs sees the abort flag and does the same itself.)
  virtual void AbortIdle() = 0;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_PEER_GROUP_H_
