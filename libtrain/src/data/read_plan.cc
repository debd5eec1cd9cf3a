#include "data/read_plan.h"

#include <algorithm>
#include <cstring>

namespace train::internal {

BlockPlan PlanBlocks(const std::vector<std::uint64_t>& indices, std::uint64_t block_rows) {
  BlockPlan plan;
  plan.blocks.reserve(indices.size());
  for (std::uint64_t row : indices) plan.blocks.push_back(row / block_rows);
  std::sort(plan.blocks.begin(), plan.blocks.end());
  plan.blocks.erase(std::unique(plan.blocks.begin(), plan.blocks.end()), plan.blocks.end());
  plan.slot.resize(indices.size());
  plan.offset.resize(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const std::uint64_t block = indices[i] / block_rows;
    plan.slot[i] = static_cast<std::size_t>(
        std::lower_bound(plan.blocks.begin(), plan.blocks.end(), block) - plan.blocks.begin());
    plan.offset[i] = indices[i] - block * block_rows;
  }
  return plan;
}

void GatherRows(const BlockPlan& plan, const std::vector<const std::byte*>& blocks,
                std::size_t row_bytes, std::byte* out) {
  for (std::size_t i = 0; i < plan.slot.size(); ++i) {
    std::memcpy(out + i * row_bytes, blocks[plan.slot[i]] + plan.offset[i] * row_bytes, row_bytes);
  }
}

}  // namespace train::internal
