// Wire compression for gradient buckets: float32/float64 rounded to a 16-bit float before the
// all-reduce and widened back after it.
#ifndef TRAIN_COLLECTIVES_GRAD_BUCKETS_WIRE_H_
#define TRAIN_COLLECTIVES_GRAD_BUCKETS_WIRE_H_

#include <cstdint>

#include "train/dtype.h"

namespace train::internal {

// dst[i] = src[i] rounded to `wire` (kBFloat16 or kFloat16), nearest even; `from` is kFloat32
// or kFloat64 (float64 is rounded to float32 first).
void NarrowToWire(DType from, const void* src, DType wire, void* dst, std::uint64_t count);

// dst[i] = src[i] widened from `wire` to `to` (kFloat32 or kFloat64), exactly.
void WidenFromWire(DType wire, const void* src, DType to, void* dst, std::uint64_t count);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_GRAD_BUCKETS_WIRE_H_
