#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "nccl/divide_kernel.h"

namespace train::internal {
namespace {

// How each element type divides. Integers go through 64 bits, so that a world of more than
// 255 ranks still divides uint8 right; C++ integer division truncates toward zero.
template <typename T>
struct Divider {
  __device__ static T Apply(T value, int divisor) {
    return static_cast<T>(static_cast<std::int64_t>(value) / static_cast<std::int64_t>(divisor));
  }
};

template <>
struct Divider<float> {
  __device__ static float Apply(float value, int divisor) {
    return __fdiv_rn(value, static_cast<float>(divisor));
  }
};

template <>
struct Divider<double> {
  __device__ static double Apply(double value, int divisor) {
    return __ddiv_rn(value, static_cast<double>(divisor));
  }
};

template <>
struct Divider<__half> {
  __device__ static __half Apply(__half value, int divisor) {
    return __float2half_rn(__fdiv_rn(__half2float(value), static_cast<float>(divisor)));
  }
};

template <>
struct Divider<__nv_bfloat16> {
  __device__ static __nv_bfloat16 Apply(__nv_bfloat16 value, int divisor) {
    return __float2bfloat16_rn(__fdiv_rn(__bfloat162float(value), static_cast<float>(divisor)));
  }
};

template <typename T>
__global__ void DivideKernel(T* data, std::uint64_t count, int divisor) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < count; i += stride) {
    data[i] = Divider<T>::Apply(data[i], divisor);
  }
}

template <typename T>
cudaError_t Launch(void* data, std::uint64_t count, int divisor, cudaStream_t stream) {
  constexpr unsigned kThreads = 256;
  const std::uint64_t wanted = (count + kThreads - 1) / kThreads;
  const unsigned blocks = static_cast<unsigned>(std::min<std::uint64_t>(wanted, 4096));
  DivideKernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(data), count, divisor);
  return cudaGetLastError();
}

}  // namespace

cudaError_t DivideOnDevice(DType dtype, void* data, std::uint64_t count, int divisor,
                           cudaStream_t stream) {
  if (divisor == 0) return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  switch (dtype) {
    case DType::kFloat32:
      return Launch<float>(data, count, divisor, stream);
    case DType::kFloat64:
      return Launch<double>(data, count, divisor, stream);
    case DType::kFloat16:
      return Launch<__half>(data, count, divisor, stream);
    case DType::kBFloat16:
      return Launch<__nv_bfloat16>(data, count, divisor, stream);
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
