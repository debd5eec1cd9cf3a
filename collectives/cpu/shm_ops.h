// What each shared-memory op does in each pipeline stage (see shm_pipeline.h).
//
//   allreduce     In: the chunk, less this member's share, into its slot. Reduce: its share
//                 across every member's slot in member order (its own input read in place)
//                 into the result slot and its output. Out: the other shares from the result
//                 slot into its output. Small messages: In copies the whole message, Out
//                 reduces all of it (one step, same result bit for bit).
//   reducescatter In: the chunk of every block but its own. Reduce: its block's chunk across
//                 members straight into its output.
//   allgather     In: its chunk into its slot. Out: every other member's chunk into its block.
//   broadcast     In (root): its chunk. Out (others): the root's chunk.
//   barrier       one chunk of nothing.
#ifndef TRAIN_COLLECTIVES_CPU_SHM_OPS_H_
#define TRAIN_COLLECTIVES_CPU_SHM_OPS_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "cpu/shm_pipeline.h"
#include "cpu/shm_segment.h"
#include "train/communicator.h"

namespace train::internal {

struct ShmOpTarget {
  ShmSegment* segment = nullptr;
  int member = 0;
  int size = 1;
  std::size_t chunk_bytes = 0;  // per member per slot, a multiple of 64
  bool stream = false;          // streaming stores for the output (large messages)
};

// Messages up to this many bytes take the one-step allreduce.
inline constexpr std::size_t kShmSmallBytes = 16 << 10;

std::unique_ptr<ShmPipeline> MakeAllReduce(const ShmOpTarget& target, const void* in, void* out,
                                           std::uint64_t count, DType dtype, ReduceOp op);
std::unique_ptr<ShmPipeline> MakeReduceScatter(const ShmOpTarget& target, const void* in, void* out,
                                               std::uint64_t count, DType dtype, ReduceOp op);
std::unique_ptr<ShmPipeline> MakeAllGather(const ShmOpTarget& target, const void* in, void* out,
                                           std::uint64_t bytes);
std::unique_ptr<ShmPipeline> MakeBroadcast(const ShmOpTarget& target, void* inout,
                                           std::uint64_t bytes, int root);
std::unique_ptr<ShmPipeline> MakeBarrier();

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_SHM_OPS_H_
