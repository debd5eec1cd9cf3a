// Turning a batch's row indices into few, sorted reads, and putting the rows back in order.
#ifndef TRAIN_DATA_READ_PLAN_H_
#define TRAIN_DATA_READ_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace train::internal {

// Consecutive rows [start, start + count).
struct RowRun {
  std::uint64_t start = 0;
  std::uint64_t count = 0;
};

struct ReadPlan {
  std::vector<RowRun> runs;         // the distinct rows, ascending, merged into runs
  std::uint64_t distinct_rows = 0;  // rows the runs cover
  // For each requested position, its row's place among the distinct rows.
  std::vector<std::size_t> slot;
  // The request was already distinct and ascending: the rows read are the batch as is.
  bool in_order = true;
};

ReadPlan PlanRead(const std::vector<std::uint64_t>& indices);

// Copies row plan.slot[i] of `distinct` (rows of `row_bytes`) to row i of `out`.
void ScatterRows(const ReadPlan& plan, const std::byte* distinct, std::size_t row_bytes,
                 std::byte* out);

}  // namespace train::internal

#endif  // TRAIN_DATA_READ_PLAN_H_
