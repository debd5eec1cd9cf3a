// The second half of an integer kAvg on the device: NCCL sums, this divides. (ncclAvg would
// do it in one pass, but its integer division is not specified to truncate toward zero for
// negative sums, which the API promises.)
#ifndef TRAIN_COLLECTIVES_NCCL_DIVIDE_KERNEL_H_
#define TRAIN_COLLECTIVES_NCCL_DIVIDE_KERNEL_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "train/dtype.h"

namespace train::internal {

// True for the dtypes DivideOnDevice takes (int32, int64, uint8).
bool IsIntegerCollectiveDType(DType dtype);

// data[i] /= divisor on `stream`, truncating toward zero. Returns the launch's error.
cudaError_t DivideOnDevice(DType dtype, void* data, std::uint64_t count, int divisor,
                           cudaStream_t stream);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_NCCL_DIVIDE_KERNEL_H_
