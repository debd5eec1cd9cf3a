// Where a GradientBuckets' flat buffers live and how gradients move in and out of them: host
// memory with memcpy, or device memory of the communicator's GPU with copies and conversion
// kernels on the legacy default stream.
#ifndef TRAIN_COLLECTIVES_GRAD_BUCKETS_MEMORY_H_
#define TRAIN_COLLECTIVES_GRAD_BUCKETS_MEMORY_H_

#include <cstdint>
#include <memory>

#include "train/status.h"
#include "train/tensor.h"

namespace train::internal {

class BucketMemory {
 public:
  virtual ~BucketMemory() = default;  // frees every buffer it allocated

  virtual Device device() const = 0;
  virtual int device_index() const = 0;

  // `bytes` (may be 0) aligned for vector loads, owned by this object.
  virtual Result<void*> Allocate(std::uint64_t bytes) = 0;
  // `wire` (in a buffer of this object) <- `grad`, copied, or rounded when `wire_dtype` is a
  // 16-bit float and the gradient is float32/float64. On a GPU it is only enqueued: stream
  // order puts it before any collective issued afterwards.
  virtual Status CopyIn(const TensorView& grad, void* wire, DType wire_dtype) = 0;
  // `grad` <- `wire`, copied or widened back. On a GPU it is only enqueued; see Flush.
  virtual Status CopyOut(const void* wire, DType wire_dtype, const TensorView& grad) = 0;
  // `bytes` of zeros at `data` (a buffer of this object, or a gradient); on a GPU enqueued like
  // CopyIn.
  virtual Status Zero(void* data, std::uint64_t bytes) = 0;
  // Returns once every CopyOut enqueued so far has landed.
  virtual Status Flush() = 0;
};

std::unique_ptr<BucketMemory> NewHostBucketMemory();

// Device memory of CUDA device `device`. FAILED_PRECONDITION in a build without CUDA,
// UNAVAILABLE when the device cannot be used.
Result<std::unique_ptr<BucketMemory>> NewCudaBucketMemory(int device);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_GRAD_BUCKETS_MEMORY_H_
