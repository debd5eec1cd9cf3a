// The pipeline every shared-memory op runs: a message is cut into chunks, and each chunk goes
// through up to three stages, each followed by publishing a counter:
//
//   In      this member puts its part of chunk k into its slot              -> in  = g + 1
//   Reduce  (once every member's `in` >= g + 1) it reduces its share         -> red = g + 1
//   Out     (once every member's `red`, or `in`, >= g + 1) it copies out     -> out = g + 1
//
// where g is the chunk's global number (chunks are numbered across ops). Chunk g uses slot
// g % slots, which is free once every member's `out` >= g + 1 - slots. A member runs each
// stage as soon as it can, so with several slots a member that is ahead copies in the next
// chunks while the others catch up, and a member that gets the CPU back (more members than
// cores) does all the work that became possible before it waits again.
#ifndef TRAIN_COLLECTIVES_CPU_SHM_PIPELINE_H_
#define TRAIN_COLLECTIVES_CPU_SHM_PIPELINE_H_

#include <cstdint>

#include "common/op_context.h"
#include "cpu/shm_sync.h"

namespace train::internal {

class ShmPipeline {
 public:
  virtual ~ShmPipeline() = default;

  std::uint32_t chunks = 0;
  bool has_reduce = false;  // the Reduce stage exists
  bool has_out = true;      // the Out stage exists (at least one of the two does)
  int source = -1;          // Out waits for this member's `in` only (broadcast); -1: all

  virtual void In(std::uint64_t chunk, int slot) = 0;
  virtual void Reduce(std::uint64_t /*chunk*/, int /*slot*/) {}
  virtual void Out(std::uint64_t /*chunk*/, int /*slot*/) {}
};

// Runs `pipeline` to the end; `*seq` is the global number of its first chunk and is advanced
// past its last. On error the group is left mid-op (the caller marks itself broken).
Status RunPipeline(ShmSync& sync, int slots, std::uint32_t* seq, ShmPipeline& pipeline,
                   OpContext& ctx);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_SHM_PIPELINE_H_
