// Owning wrappers for the CUDA objects of an NCCL communicator: the current device, a stream,
// events and a small device buffer. Move-only; each frees its handle once.
#ifndef TRAIN_COLLECTIVES_NCCL_CUDA_HANDLES_H_
#define TRAIN_COLLECTIVES_NCCL_CUDA_HANDLES_H_

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "train/status.h"

namespace train::internal {

// Makes `device` current for a scope and restores the caller's device after it.
class ScopedCudaDevice {
 public:
  explicit ScopedCudaDevice(int device);
  ~ScopedCudaDevice();
  ScopedCudaDevice(const ScopedCudaDevice&) = delete;
  ScopedCudaDevice& operator=(const ScopedCudaDevice&) = delete;

  // Whether `device` could be made current (why not, otherwise).
  const Status& status() const { return status_; }

 private:
  int previous_ = -1;
  Status status_;
};

// A stream that orders itself with the legacy default stream, so that work the caller issued
// there (cudaMemcpy, kernels on stream 0) comes before the collectives enqueued on it.
class CudaStream {
 public:
  static Result<CudaStream> Create();
  CudaStream() = default;
  CudaStream(CudaStream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  CudaStream& operator=(CudaStream&& other) noexcept;
  ~CudaStream();

  cudaStream_t get() const { return stream_; }

 private:
  explicit CudaStream(cudaStream_t stream) : stream_(stream) {}
  cudaStream_t stream_ = nullptr;
};

// An event without timing, recorded after each op to tell when it completed.
class CudaEvent {
 public:
  static Result<CudaEvent> Create();
  CudaEvent() = default;
  CudaEvent(CudaEvent&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  CudaEvent& operator=(CudaEvent&& other) noexcept;
  ~CudaEvent();

  cudaEvent_t get() const { return event_; }

 private:
  explicit CudaEvent(cudaEvent_t event) : event_(event) {}
  cudaEvent_t event_ = nullptr;
};

// Device memory from cudaMalloc.
class DeviceBuffer {
 public:
  static Result<DeviceBuffer> Allocate(std::size_t bytes);
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  ~DeviceBuffer();

  void* get() const { return data_; }

 private:
  explicit DeviceBuffer(void* data) : data_(data) {}
  void* data_ = nullptr;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_NCCL_CUDA_HANDLES_H_
