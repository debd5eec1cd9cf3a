// Multi-tensor apply: the tensors of one step are cut into fixed-size chunks, and the tensor
// addresses and where each tensor's chunks start travel in the kernel arguments, so one launch
// covers many tensors with no device-side metadata. A launch has as many blocks as the device
// keeps resident at once (or fewer, when there are fewer chunks), and each block walks the
// chunks with a grid stride: one launch for any number of chunks, no block waits for a second
// wave. The launches are planned once, when the optimizer is built.
#ifndef TRAIN_KERNELS_CUDA_MULTI_TENSOR_H_
#define TRAIN_KERNELS_CUDA_MULTI_TENSOR_H_

#include <cstdint>
#include <vector>

namespace train::cuda {

constexpr int kThreads = 512;  // per block
constexpr int kIlp = 4;        // elements per thread per pass
// Elements per chunk: small enough that the chunks of a launch spread evenly over the blocks
// (a block that gets one chunk more than another is the tail of the launch), large enough that
// finding a chunk's tensor is noise.
constexpr std::int64_t kChunk = 4 * 1024;
constexpr int kOperands = 5;     // param, master, grad, exp_avg, exp_avg_sq
constexpr int kMaxTensors = 64;  // per launch
enum Operand { kParam = 0, kMaster = 1, kGrad = 2, kMoment1 = 3, kMoment2 = 4 };

// Passed by value to every kernel: under the 4 KiB kernel-argument limit of every architecture.
struct TensorListMeta {
  void* ptrs[kOperands][kMaxTensors];  // null for an operand a tensor does not have
  std::int64_t numel[kMaxTensors];
  int group[kMaxTensors];
  int tensor[kMaxTensors];  // index among all tensors of the step (LAMB's per-tensor norms)
  // Chunks of the launch before each slot's first; first_chunk[num_tensors] == num_chunks.
  int first_chunk[kMaxTensors + 1];
  int num_tensors;
  int num_chunks;
  int chunk_offset;  // index of chunk 0 among all chunks of the step (LAMB's norm sums)
  int num_blocks;    // blocks to launch: min(num_chunks, resident blocks of the device)
  int block_offset;  // index of block 0 among all blocks of the step (gradient norm sums)
};
static_assert(sizeof(TensorListMeta) <= 4000, "kernel arguments are limited to 4 KiB");

// One tensor as the planner sees it.
struct TensorEntry {
  void* ptrs[kOperands] = {};
  std::int64_t numel = 0;
  int group = 0;
  int tensor = 0;  // index among all tensors of the step
};

// Where the chunks of one tensor sit among all chunks of the step (LAMB's trust ratios).
struct TensorChunks {
  int first_chunk;
  int num_chunks;
  int group;
};

// Where the next launch planned starts among all chunks and blocks of the step.
struct PlanCursor {
  int chunk = 0;
  int block = 0;
};

// Packs `tensors` (empty ones skipped) into launches of at most `max_blocks` blocks each;
// `cursor` numbers chunks and blocks across calls, and `chunks` (indexed by
// TensorEntry::tensor, sized by the caller) gets each tensor's place.
std::vector<TensorListMeta> PlanLaunches(const std::vector<TensorEntry>& tensors, int max_blocks,
                                         PlanCursor* cursor, std::vector<TensorChunks>* chunks);

}  // namespace train::cuda

#endif  // TRAIN_KERNELS_CUDA_MULTI_TENSOR_H_
