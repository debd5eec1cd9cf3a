// NewCudaMemory in builds without CUDA.
#include "allreduce_memory.h"

namespace bench {

train::Result<std::unique_ptr<AllreduceMemory>> NewCudaMemory(int) {
  return train::FailedPreconditionError(
      "--backend nccl all-reduces CUDA memory, and this build has no CUDA (configure with "
      "nvcc on the PATH or -DTRAIN_WITH_CUDA=ON)");
}

}  // namespace bench
