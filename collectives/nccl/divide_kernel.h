// The second half of kAvg on the device: NCCL sums, this divides by the world size, as the
// CPU and MPI backends do (one rounding, after the sum). ncclAvg is not used: it scales each
// input by 1/n before summing, which rounds differently, and its integer division is not
// specified to truncate toward zero for negative sums, which the API promises.
#ifndef TRAIN_COLLECTIVES_NCCL_DIVIDE_KERNEL_H_
#define TRAIN_COLLECTIVES_NCCL_DIVIDE_KERNEL_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "train/dtype.h"

namespace train::internal {

// data[i] /= divisor on `stream`. Floats are correctly rounded (float16 and bfloat16 divide
// in float32 and round once to nearest even); integers truncate toward zero. Takes every
// collective dtype; returns the launch's error (cudaErrorInvalidValue for another dtype).
cudaError_t DivideOnDevice(DType dtype, void* data, std::uint64_t count, int divisor,
                           cudaStream_t stream);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_NCCL_DIVIDE_KERNEL_H_
