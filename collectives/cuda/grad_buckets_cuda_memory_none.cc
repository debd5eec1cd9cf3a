// NewCudaBucketMemory in a build without CUDA: a clear error instead of a missing symbol.
#include "grad_buckets_memory.h"

namespace train::internal {

Result<std::unique_ptr<BucketMemory>> NewCudaBucketMemory(int) {
  return FailedPreconditionError(
      "GradientBuckets: this libtrain was built without CUDA, so it has no buckets in device "
      "memory; rebuild with -DTRAIN_WITH_CUDA=ON (the CUDA Toolkit installed)");
}

}  // namespace train::internal
