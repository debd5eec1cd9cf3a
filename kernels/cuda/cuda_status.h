// CUDA return codes as train::Status, with the call and file:line in the message.
#ifndef TRAIN_KERNELS_CUDA_CUDA_STATUS_H_
#define TRAIN_KERNELS_CUDA_CUDA_STATUS_H_

#include <cuda_runtime.h>

#include <string>

#include "train/status.h"

namespace train::cuda {

// UNAVAILABLE for a missing driver or device (the fix is on the machine), INTERNAL otherwise.
inline Status CudaError(cudaError_t err, const char* call, const char* file, int line) {
  std::string what = std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                     cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
  if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice) {
    return UnavailableError(what +
                            "; no usable NVIDIA driver or GPU in this process: check "
                            "nvidia-smi, the driver version, and CUDA_VISIBLE_DEVICES");
  }
  return InternalError(what);
}

}  // namespace train::cuda

#define TRAIN_CUDA_RETURN_IF_ERROR(call)                                           \
  do {                                                                             \
    cudaError_t train_cuda_err_ = (call);                                          \
    if (train_cuda_err_ != cudaSuccess) {                                          \
      return ::train::cuda::CudaError(train_cuda_err_, #call, __FILE__, __LINE__); \
    }                                                                              \
  } while (false)

#endif  // TRAIN_KERNELS_CUDA_CUDA_STATUS_H_
