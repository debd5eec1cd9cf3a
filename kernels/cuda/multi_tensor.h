// Multi-tensor apply: the tensors of one step are cut into fixed-size chunks, one per thread
// block, and the tensor addresses and the block-to-chunk map travel in the kernel arguments,
// so one launch covers many tensors with no device-side metadata. The launches are planned
// once, when the optimizer is built.
#ifndef TRAIN_KERNELS_CUDA_MULTI_TENSOR_H_
#define TRAIN_KERNELS_CUDA_MULTI_TENSOR_H_

#include <cstdint>
#include <vector>

namespace train::cuda {

constexpr int kThreads = 512;               // per block
constexpr int kIlp = 4;                     // elements per thread per pass
constexpr std::int64_t kChunk = 64 * 1024;  // elements per block
constexpr int kOperands = 5;                // param, master, grad, exp_avg, exp_avg_sq
constexpr int kMaxTensors = 24;             // per launch
constexpr int kMaxBlocks = 320;             // per launch
enum Operand { kParam = 0, kMaster = 1, kGrad = 2, kMoment1 = 3, kMoment2 = 4 };

// Passed by value to every kernel: under the 4 KiB kernel-argument limit of every architecture.
struct TensorListMeta {
  void* ptrs[kOperands][kMaxTensors];  // null for an operand a tensor does not have
  std::int64_t numel[kMaxTensors];
  int group[kMaxTensors];
  std::uint8_t slot_of_block[kMaxBlocks];
  int chunk_of_block[kMaxBlocks];
  int num_blocks;
  int block_offset;  // index of block 0 among all blocks of the step (norm partial sums)
};
static_assert(sizeof(TensorListMeta) <= 4000, "kernel arguments are limited to 4 KiB");

// One tensor as the planner sees it.
struct TensorEntry {
  void* ptrs[kOperands] = {};
  std::int64_t numel = 0;
  int group = 0;
};

// Packs `tensors` (empty ones skipped) into launches; `*next_block` numbers the blocks across
// calls.
std::vector<TensorListMeta> PlanLaunches(const std::vector<TensorEntry>& tensors, int* next_block);

}  // namespace train::cuda

#endif  // TRAIN_KERNELS_CUDA_MULTI_TENSOR_H_
