// Device memory for train-bench allreduce --backend nccl.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "allreduce_memory.h"

namespace bench {
namespace {

void CheckCuda(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return;
  std::fprintf(stderr, "train-bench allreduce: %s: %s\n", what, cudaGetErrorString(error));
  std::exit(1);
}

class CudaMemory : public AllreduceMemory {
 public:
  explicit CudaMemory(int device_index) : device_index_(device_index) {}
  ~CudaMemory() override {
    for (void* p : blocks_) cudaFree(p);
  }
  train::Device device() const override { return train::Device::kCuda; }
  int device_index() const override { return device_index_; }
  void* Allocate(std::uint64_t bytes) override {
    void* p = nullptr;
    CheckCuda(cudaMalloc(&p, bytes + 64), "cudaMalloc");
    CheckCuda(cudaMemset(p, 0, bytes + 64), "cudaMemset");
    blocks_.push_back(p);
    return p;
  }
  void Upload(void* dst, const void* src, std::uint64_t bytes) override {
    CheckCuda(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the device");
  }
  void Download(void* dst, const void* src, std::uint64_t bytes) override {
    CheckCuda(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to the host");
  }

 private:
  const int device_index_;
  std::vector<void*> blocks_;
};

}  // namespace

train::Result<std::unique_ptr<AllreduceMemory>> NewCudaMemory(int device_index) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    return train::FailedPreconditionError(
        std::string("--backend nccl needs a CUDA device: ") +
        (error != cudaSuccess ? cudaGetErrorString(error) : "none found"));
  }
  const int device = device_index % count;
  if (cudaSetDevice(device) != cudaSuccess) {
    return train::FailedPreconditionError("cudaSetDevice(" + std::to_string(device) + ") failed");
  }
  return std::unique_ptr<AllreduceMemory>(std::make_unique<CudaMemory>(device));
}

}  // namespace bench
