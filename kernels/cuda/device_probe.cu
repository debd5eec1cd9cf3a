// CUDA device discovery and a self-test kernel (built when TRAIN_WITH_CUDA is on).
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "cuda_status.h"
#include "train/device.h"

namespace train {
namespace {

__global__ void FillIota(int* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = 3 * i + 1;
}

// Frees device memory on every path out of CudaSelfTest.
struct DeviceBuffer {
  int* ptr = nullptr;
  ~DeviceBuffer() {
    if (ptr != nullptr) cudaFree(ptr);
  }
};

}  // namespace

Result<std::vector<CudaDevice>> ListCudaDevices() {
  int count = 0;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
  std::vector<CudaDevice> devices;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    TRAIN_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, i));
    devices.push_back(CudaDevice{i, prop.name, prop.major, prop.minor, prop.totalGlobalMem});
  }
  return devices;
}

Status CudaSelfTest(int device) {
  TRAIN_ASSIGN_OR_RETURN(auto devices, ListCudaDevices());
  if (device < 0 || device >= static_cast<int>(devices.size())) {
    return InvalidArgumentError("CUDA device " + std::to_string(device) + " does not exist; " +
                                std::to_string(devices.size()) + " visible");
  }
  TRAIN_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  constexpr int kCount = 1000;  // not a multiple of the block size: covers the tail guard
  DeviceBuffer buffer;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMalloc(&buffer.ptr, kCount * sizeof(int)));
  FillIota<<<(kCount + 255) / 256, 256>>>(buffer.ptr, kCount);
  TRAIN_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  std::vector<int> host(kCount);
  TRAIN_CUDA_RETURN_IF_ERROR(
      cudaMemcpy(host.data(), buffer.ptr, kCount * sizeof(int), cudaMemcpyDeviceToHost));
  for (int i = 0; i < kCount; ++i) {
    if (host[i] != 3 * i + 1) {
      return InternalError("CUDA self-test kernel wrote " + std::to_string(host[i]) + " at index " +
                           std::to_string(i) + ", expected " + std::to_string(3 * i + 1));
    }
  }
  return Status::Ok();
}

}  // namespace train
