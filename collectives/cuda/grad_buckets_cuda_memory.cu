// Bucket buffers in device memory. Every copy and conversion is enqueued on the legacy default
// stream: the NCCL communicator's stream is a blocking one, so a bucket's all-reduce, issued
// after its copies, runs after them, and the copies run after the gradients' own kernels when
// those were launched on the legacy default stream or another blocking stream.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "grad_buckets_memory.h"

namespace train::internal {
namespace {

Status CudaFailure(cudaError_t err, const std::string& what) {
  std::string message = "GradientBuckets: " + what + " failed: " + cudaGetErrorName(err) + " (" +
                        cudaGetErrorString(err) + ")";
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver ||
      err == cudaErrorInvalidDevice) {
    return UnavailableError(message + "; check nvidia-smi, the driver, and CUDA_VISIBLE_DEVICES");
  }
  if (err == cudaErrorMemoryAllocation) {
    return ResourceExhaustedError(message +
                                  "; lower GradientBucketsOptions::cap_bytes or free "
                                  "device memory");
  }
  return InternalError(message);
}

// Makes the buckets' device current for a call and restores the caller's afterwards.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    err_ = cudaGetDevice(&previous_);
    if (err_ == cudaSuccess && previous_ != device) err_ = cudaSetDevice(device);
  }
  ~DeviceScope() {
    int current = -1;
    if (err_ == cudaSuccess && cudaGetDevice(&current) == cudaSuccess && current != previous_) {
      (void)cudaSetDevice(previous_);
    }
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
  cudaError_t error() const { return err_; }

 private:
  int previous_ = -1;
  cudaError_t err_ = cudaSuccess;
};

template <typename Wire>
__device__ Wire ToWire(float value);
template <>
__device__ __nv_bfloat16 ToWire<__nv_bfloat16>(float value) {
  return __float2bfloat16_rn(value);
}
template <>
__device__ __half ToWire<__half>(float value) {
  return __float2half_rn(value);
}

__device__ float FromWire(__nv_bfloat16 value) { return __bfloat162float(value); }
__device__ float FromWire(__half value) { return __half2float(value); }

// float64 is rounded to float32 first, as the host conversion does.
template <typename From, typename Wire>
__global__ void NarrowKernel(const From* in, Wire* out, std::uint64_t count) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < count; i += stride) {
    out[i] = ToWire<Wire>(static_cast<float>(in[i]));
  }
}

template <typename Wire, typename To>
__global__ void WidenKernel(const Wire* in, To* out, std::uint64_t count) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < count; i += stride) {
    out[i] = static_cast<To>(FromWire(in[i]));
  }
}

constexpr unsigned kThreads = 256;

unsigned Blocks(std::uint64_t count) {
  constexpr std::uint64_t kMaxBlocks = 4096;  // a few waves on any GPU; the loops stride
  return static_cast<unsigned>(
      std::min<std::uint64_t>((count + kThreads - 1) / kThreads, kMaxBlocks));
}

template <typename From, typename Wire>
void LaunchNarrow(const void* in, void* out, std::uint64_t count) {
  NarrowKernel<From, Wire><<<Blocks(count), kThreads, 0, cudaStreamLegacy>>>(
      static_cast<const From*>(in), static_cast<Wire*>(out), count);
}

template <typename Wire, typename To>
void LaunchWiden(const void* in, void* out, std::uint64_t count) {
  WidenKernel<Wire, To><<<Blocks(count), kThreads, 0, cudaStreamLegacy>>>(
      static_cast<const Wire*>(in), static_cast<To*>(out), count);
}

class CudaBucketMemory : public BucketMemory {
 public:
  explicit CudaBucketMemory(int device) : device_(device) {}
  ~CudaBucketMemory() override {
    DeviceScope scope(device_);
    for (void* buffer : buffers_) (void)cudaFree(buffer);
  }
  CudaBucketMemory(const CudaBucketMemory&) = delete;
  CudaBucketMemory& operator=(const CudaBucketMemory&) = delete;

  Device device() const override { return Device::kCuda; }
  int device_index() const override { return device_; }

  // cudaMalloc aligns to 256 bytes.
  Result<void*> Allocate(std::uint64_t bytes) override {
    DeviceScope scope(device_);
    if (scope.error() != cudaSuccess) return Failure(scope.error(), "cudaSetDevice");
    void* data = nullptr;
    const cudaError_t err = cudaMalloc(&data, std::max<std::uint64_t>(bytes, 1));
    if (err != cudaSuccess) {
      return CudaFailure(err, "cudaMalloc of a bucket of " + std::to_string(bytes) +
                                  " bytes on CUDA device " + std::to_string(device_));
    }
    buffers_.push_back(data);
    return data;
  }

  Status CopyIn(const TensorView& grad, void* wire, DType wire_dtype) override {
    if (grad.numel == 0) return Status::Ok();
    DeviceScope scope(device_);
    if (scope.error() != cudaSuccess) return Failure(scope.error(), "cudaSetDevice");
    if (wire_dtype == grad.dtype) {
      return Check(cudaMemcpyAsync(wire, grad.data, grad.bytes(), cudaMemcpyDeviceToDevice,
                                   cudaStreamLegacy),
                   "cudaMemcpyAsync into a bucket");
    }
    const bool bf16 = wire_dtype == DType::kBFloat16;
    if (grad.dtype == DType::kFloat32) {
      bf16 ? LaunchNarrow<float, __nv_bfloat16>(grad.data, wire, grad.numel)
           : LaunchNarrow<float, __half>(grad.data, wire, grad.numel);
    } else {
      bf16 ? LaunchNarrow<double, __nv_bfloat16>(grad.data, wire, grad.numel)
           : LaunchNarrow<double, __half>(grad.data, wire, grad.numel);
    }
    return Check(cudaGetLastError(), "the kernel rounding a gradient to the wire dtype");
  }

  Status CopyOut(const void* wire, DType wire_dtype, const TensorView& grad) override {
    if (grad.numel == 0) return Status::Ok();
    DeviceScope scope(device_);
    if (scope.error() != cudaSuccess) return Failure(scope.error(), "cudaSetDevice");
    if (wire_dtype == grad.dtype) {
      return Check(cudaMemcpyAsync(grad.data, wire, grad.bytes(), cudaMemcpyDeviceToDevice,
                                   cudaStreamLegacy),
                   "cudaMemcpyAsync out of a bucket");
    }
    const bool bf16 = wire_dtype == DType::kBFloat16;
    if (grad.dtype == DType::kFloat32) {
      bf16 ? LaunchWiden<__nv_bfloat16, float>(wire, grad.data, grad.numel)
           : LaunchWiden<__half, float>(wire, grad.data, grad.numel);
    } else {
      bf16 ? LaunchWiden<__nv_bfloat16, double>(wire, grad.data, grad.numel)
           : LaunchWiden<__half, double>(wire, grad.data, grad.numel);
    }
    return Check(cudaGetLastError(), "the kernel widening a bucket back to the gradient");
  }

  Status Zero(void* data, std::uint64_t bytes) override {
    if (bytes == 0) return Status::Ok();
    DeviceScope scope(device_);
    if (scope.error() != cudaSuccess) return Failure(scope.error(), "cudaSetDevice");
    return Check(cudaMemsetAsync(data, 0, bytes, cudaStreamLegacy), "cudaMemsetAsync");
  }

  Status Flush() override {
    DeviceScope scope(device_);
    if (scope.error() != cudaSuccess) return Failure(scope.error(), "cudaSetDevice");
    return Check(cudaStreamSynchronize(cudaStreamLegacy),
                 "cudaStreamSynchronize of the legacy default stream");
  }

 private:
  Status Check(cudaError_t err, const char* what) const {
    return err == cudaSuccess ? Status::Ok() : Failure(err, what);
  }
  Status Failure(cudaError_t err, const char* what) const {
    return CudaFailure(err, std::string(what) + " (CUDA device " + std::to_string(device_) + ")");
  }

  const int device_;
  std::vector<void*> buffers_;
};

}  // namespace

Result<std::unique_ptr<BucketMemory>> NewCudaBucketMemory(int device) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return CudaFailure(err, "cudaGetDeviceCount");
  if (device < 0 || device >= count) {
    return UnavailableError("GradientBuckets: the communicator uses CUDA device " +
                            std::to_string(device) + " but this process sees " +
                            std::to_string(count) + "; check CUDA_VISIBLE_DEVICES");
  }
  return std::unique_ptr<BucketMemory>(new CudaBucketMemory(device));
}

}  // namespace train::internal
