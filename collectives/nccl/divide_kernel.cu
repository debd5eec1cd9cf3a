#include <algorithm>

#include "nccl/divide_kernel.h"

namespace train::internal {
namespace {

template <typename T>
__global__ void DivideKernel(T* data, std::uint64_t count, std::int64_t divisor) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < count; i += stride) {
    // In 64 bits, so that a world of more than 255 ranks still divides uint8 right; C++
    // integer division truncates toward zero.
    data[i] = static_cast<T>(static_cast<std::int64_t>(data[i]) / divisor);
  }
}

template <typename T>
cudaError_t Launch(void* data, std::uint64_t count, int divisor, cudaStream_t stream) {
  constexpr unsigned kThreads = 256;
  const std::uint64_t wanted = (count + kThreads - 1) / kThreads;
  const unsigned blocks = static_cast<unsigned>(std::min<std::uint64_t>(wanted, 4096));
  DivideKernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(data), count,
                                                   static_cast<std::int64_t>(divisor));
  return cudaGetLastError();
}

}  // namespace

bool IsIntegerCollectiveDType(DType dtype) {
  return dtype == DType::kInt32 || dtype == DType::kInt64 || dtype == DType::kUInt8;
}

cudaError_t DivideOnDevice(DType dtype, void* data, std::uint64_t count, int divisor,
                           cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  switch (dtype) {
    case DType::kInt32:
      return Launch<std::int32_t>(data, count, divisor, stream);
    case DType::kInt64:
      return Launch<std::int64_t>(data, count, divisor, stream);
    case DType::kUInt8:
      return Launch<std::uint8_t>(data, count, divisor, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace train::internal
