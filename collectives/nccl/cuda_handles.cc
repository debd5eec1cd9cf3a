#include "nccl/cuda_handles.h"

#include <string>

#include "cuda/cuda_status.h"
#include "train/log.h"

namespace train::internal {
namespace {

// Destructors cannot return a Status: a failure to free is logged and otherwise ignored.
void LogIfFailed(cudaError_t err, const char* call) {
  if (err != cudaSuccess) {
    LogWarning(std::string(call) + " failed: " + cudaGetErrorName(err) + " (" +
               cudaGetErrorString(err) + ")");
  }
}

}  // namespace

ScopedCudaDevice::ScopedCudaDevice(int device) {
  cudaError_t err = cudaGetDevice(&previous_);
  if (err != cudaSuccess) {
    previous_ = -1;
    status_ = cuda::CudaError(err, "cudaGetDevice(&previous)", __FILE__, __LINE__);
    return;
  }
  if (previous_ == device) return;
  err = cudaSetDevice(device);
  if (err != cudaSuccess) status_ = cuda::CudaError(err, "cudaSetDevice", __FILE__, __LINE__);
}

ScopedCudaDevice::~ScopedCudaDevice() {
  int current = -1;
  if (previous_ >= 0 && cudaGetDevice(&current) == cudaSuccess && current != previous_) {
    LogIfFailed(cudaSetDevice(previous_), "cudaSetDevice(previous)");
  }
}

Result<CudaStream> CudaStream::Create() {
  cudaStream_t stream = nullptr;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamDefault));
  return CudaStream(stream);
}

CudaStream& CudaStream::operator=(CudaStream&& other) noexcept {
  if (this != &other) {
    CudaStream doomed(std::exchange(stream_, std::exchange(other.stream_, nullptr)));
  }
  return *this;
}

CudaStream::~CudaStream() {
  if (stream_ != nullptr) LogIfFailed(cudaStreamDestroy(stream_), "cudaStreamDestroy");
}

Result<CudaEvent> CudaEvent::Create() {
  cudaEvent_t event = nullptr;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return CudaEvent(event);
}

CudaEvent& CudaEvent::operator=(CudaEvent&& other) noexcept {
  if (this != &other) {
    CudaEvent doomed(std::exchange(event_, std::exchange(other.event_, nullptr)));
  }
  return *this;
}

CudaEvent::~CudaEvent() {
  if (event_ != nullptr) LogIfFailed(cudaEventDestroy(event_), "cudaEventDestroy");
}

Result<DeviceBuffer> DeviceBuffer::Allocate(std::size_t bytes) {
  void* data = nullptr;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMalloc(&data, bytes));
  return DeviceBuffer(data);
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    DeviceBuffer doomed(std::exchange(data_, std::exchange(other.data_, nullptr)));
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) LogIfFailed(cudaFree(data_), "cudaFree");
}

}  // namespace train::internal
