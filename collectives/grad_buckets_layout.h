// Which gradients go into which bucket, and in what order the buckets are all-reduced.
#ifndef TRAIN_COLLECTIVES_GRAD_BUCKETS_LAYOUT_H_
#define TRAIN_COLLECTIVES_GRAD_BUCKETS_LAYOUT_H_

#include <cstdint>
#include <vector>

#include "train/grad_buckets.h"

namespace train::internal {

struct GradientShape {
  DType dtype = DType::kFloat32;
  std::uint64_t numel = 0;
};

// Buckets over `grads` (in registration order): filled in reverse registration order, one
// dtype per bucket, each closed once it reaches its cap (options.first_cap_bytes for a dtype's
// first bucket, options.cap_bytes after). Returned in the order their last gradient is
// expected in backward, which is the order they are all-reduced in.
std::vector<GradientBucket> ComputeBucketLayout(const std::vector<GradientShape>& grads,
                                                const GradientBucketsOptions& options);

// The dtype a bucket of `dtype` travels in under `wire`: the 16-bit type for float32 and
// float64, the gradients' own otherwise.
DType WireDTypeFor(DType dtype, WireDType wire);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_GRAD_BUCKETS_LAYOUT_H_
