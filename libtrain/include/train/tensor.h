// A view of a caller's tensor memory, on the CPU or a CUDA device: what the optimizers, the
// communicators and the checkpoints read and write. It owns nothing.
#ifndef TRAIN_TENSOR_H_
#define TRAIN_TENSOR_H_

#include <cstddef>
#include <cstdint>

#include "train/dtype.h"

namespace train {

enum class Device { kCpu, kCuda };

// A contiguous run of elements owned by the caller.
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  std::uint64_t numel = 0;
  Device device = Device::kCpu;
  int device_index = 0;  // the CUDA device, for kCuda

  std::uint64_t bytes() const { return numel * DTypeSize(dtype); }
};

}  // namespace train

#endif  // TRAIN_TENSOR_H_
