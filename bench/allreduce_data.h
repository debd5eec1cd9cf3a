// The all-reduce benchmarks' data: inputs of small integers, so that every reduction's result
// is exact in every dtype and can be checked element by element.
#ifndef BENCH_ALLREDUCE_DATA_H_
#define BENCH_ALLREDUCE_DATA_H_

#include <cstdint>

#include "train/communicator.h"

namespace bench {

// Rank `rank`'s input: element i is 1 + (3i + 3·rank) mod 4 (values 1 to 4).
void FillAllreduceInput(train::DType dtype, int rank, void* data, std::uint64_t count);

// Elements of `result` that differ from `op` over `world_size` ranks' inputs (kAvg within the
// dtype's rounding; sums and products as the dtype computes them, uint8 wrapping).
std::uint64_t CountWrongElements(train::DType dtype, train::ReduceOp op, int world_size,
                                 const void* result, std::uint64_t count);

}  // namespace bench

#endif  // BENCH_ALLREDUCE_DATA_H_
