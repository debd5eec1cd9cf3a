#include "data/read_plan.h"

#include <algorithm>
#include <cstring>

namespace train::internal {

ReadPlan PlanRead(const std::vector<std::uint64_t>& indices) {
  ReadPlan plan;
  for (std::size_t i = 1; i < indices.size() && plan.in_order; ++i) {
    plan.in_order = indices[i - 1] < indices[i];
  }
  std::vector<std::uint64_t> rows = indices;
  if (!plan.in_order) {
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  }
  plan.distinct_rows = rows.size();
  for (std::uint64_t row : rows) {
    if (!plan.runs.empty() && plan.runs.back().start + plan.runs.back().count == row) {
      ++plan.runs.back().count;
    } else {
      plan.runs.push_back({row, 1});
    }
  }
  plan.slot.resize(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    plan.slot[i] = plan.in_order
                       ? i
                       : static_cast<std::size_t>(
                             std::lower_bound(rows.begin(), rows.end(), indices[i]) - rows.begin());
  }
  return plan;
}

void ScatterRows(const ReadPlan& plan, const std::byte* distinct, std::size_t row_bytes,
                 std::byte* out) {
  for (std::size_t i = 0; i < plan.slot.size(); ++i) {
    std::memcpy(out + i * row_bytes, distinct + plan.slot[i] * row_bytes, row_bytes);
  }
}

}  // namespace train::internal
