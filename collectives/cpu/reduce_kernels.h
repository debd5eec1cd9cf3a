// Elementwise reductions for the CPU collectives, vectorized. float16 and bfloat16 are widened
// to float32, reduced, and rounded once (round to nearest even) per call.
#ifndef TRAIN_COLLECTIVES_CPU_REDUCE_KERNELS_H_
#define TRAIN_COLLECTIVES_CPU_REDUCE_KERNELS_H_

#include <cstdint>

#include "train/communicator.h"

namespace train::internal {

// dst[i] = dst[i] op src[i]. kAvg is not accepted here (reduce with kSum, then DivideBy).
void ReduceInto(DType dtype, ReduceOp op, void* dst, const void* src, std::uint64_t count);

// dst[i] = srcs[0][i] op srcs[1][i] op ... op srcs[n-1][i], in that order (so the result does
// not depend on how the caller chunks the arrays). dst may be one of srcs.
void ReduceMany(DType dtype, ReduceOp op, void* dst, const void* const* srcs, int n,
                std::uint64_t count);

// data[i] /= divisor (integers truncate toward zero): the second half of kAvg.
void DivideBy(DType dtype, void* data, std::uint64_t count, int divisor);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_REDUCE_KERNELS_H_
