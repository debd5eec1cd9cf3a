// Host copies of tensors for building checkpoint files: CPU tensors are used in place, CUDA
// tensors are copied into pinned buffers on a dedicated copy stream (builds with CUDA only).
#ifndef TRAIN_CHECKPOINT_HOST_STAGING_H_
#define TRAIN_CHECKPOINT_HOST_STAGING_H_

#include <memory>
#include <string>
#include <vector>

#include "train/status.h"
#include "train/tensor.h"

namespace train::internal {

class HostStaging {
 public:
  HostStaging();
  ~HostStaging();  // frees the pinned buffers
  HostStaging(const HostStaging&) = delete;
  HostStaging& operator=(const HostStaging&) = delete;

  // Host memory holding `view`'s elements, valid until this object is destroyed. `name` is the
  // tensor's, for errors.
  Result<const void*> HostPointer(const TensorView& view, const std::string& name);
  // Copies `size` host bytes into `view` (CPU or CUDA memory).
  static Status CopyToView(const void* host, const TensorView& view, const std::string& name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_HOST_STAGING_H_
