// HostStaging in a CUDA build: device tensors go through pinned host buffers on a stream of
// their own. The build compiles this file or host_staging_none.cc, never both.
#include <cuda_runtime.h>

#include <cstring>

#include "host_staging.h"

namespace train::internal {

namespace {

Status CudaError(cudaError_t error, const std::string& what, const std::string& name) {
  return UnavailableError(what + " for checkpoint tensor '" + name +
                          "' failed: " + cudaGetErrorString(error));
}

}  // namespace

struct HostStaging::Impl {
  cudaStream_t stream = nullptr;
  std::vector<void*> pinned;
  ~Impl() {
    for (void* buffer : pinned) cudaFreeHost(buffer);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
};

HostStaging::HostStaging() : impl_(std::make_unique<Impl>()) {}
HostStaging::~HostStaging() = default;

Result<const void*> HostStaging::HostPointer(const TensorView& view, const std::string& name) {
  if (view.device == Device::kCpu || view.bytes() == 0) return static_cast<const void*>(view.data);
  cudaError_t error = cudaSetDevice(view.device_index);
  if (error == cudaSuccess && impl_->stream == nullptr) {
    error = cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking);
  }
  if (error != cudaSuccess) return CudaError(error, "preparing the copy stream", name);
  void* buffer = nullptr;
  error = cudaHostAlloc(&buffer, view.bytes(), cudaHostAllocDefault);
  if (error != cudaSuccess) return CudaError(error, "cudaHostAlloc", name);
  impl_->pinned.push_back(buffer);
  error = cudaMemcpyAsync(buffer, view.data, view.bytes(), cudaMemcpyDeviceToHost, impl_->stream);
  if (error == cudaSuccess) error = cudaStreamSynchronize(impl_->stream);
  if (error != cudaSuccess) return CudaError(error, "copying to host", name);
  return static_cast<const void*>(buffer);
}

Status HostStaging::CopyToView(const void* host, const TensorView& view, const std::string& name) {
  if (view.bytes() == 0) return Status::Ok();
  if (view.device == Device::kCpu) {
    std::memcpy(view.data, host, view.bytes());
    return Status::Ok();
  }
  cudaError_t error = cudaSetDevice(view.device_index);
  if (error == cudaSuccess)
    error = cudaMemcpy(view.data, host, view.bytes(), cudaMemcpyHostToDevice);
  if (error != cudaSuccess) return CudaError(error, "copying to the device", name);
  return Status::Ok();
}

}  // namespace train::internal
