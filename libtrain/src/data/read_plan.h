// Turning a batch's row indices into the blocks of rows that hold them, and gathering the rows
// back in the order asked for.
#ifndef TRAIN_DATA_READ_PLAN_H_
#define TRAIN_DATA_READ_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace train::internal {

// Rows [block * block_rows, (block + 1) * block_rows) form a block.
struct BlockPlan {
  std::vector<std::uint64_t> blocks;  // the distinct blocks the batch touches, ascending
  // For each requested position, its block's place in `blocks` and its row within the block.
  std::vector<std::size_t> slot;
  std::vector<std::uint64_t> offset;
};

BlockPlan PlanBlocks(const std::vector<std::uint64_t>& indices, std::uint64_t block_rows);

// Copies, for each position i, row plan.offset[i] of block plan.slot[i] (rows of `row_bytes`)
// to row i of `out`.
void GatherRows(const BlockPlan& plan, const std::vector<const std::byte*>& blocks,
                std::size_t row_bytes, std::byte* out);

}  // namespace train::internal

#endif  // TRAIN_DATA_READ_PLAN_H_
