// Accelerators visible to this process.
#ifndef TRAIN_DEVICE_H_
#define TRAIN_DEVICE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "train/status.h"

namespace train {

struct CudaDevice {
  int index = 0;
  std::string name;       // "NVIDIA H100 80GB HBM3"
  int compute_major = 0;  // 9 for Hopper
  int compute_minor = 0;
  std::size_t total_bytes = 0;  // device memory
};

// The CUDA devices this process can use. Errors (never a crash) when libtrain was built
// without CUDA (FAILED_PRECONDITION) or when no driver or device is present (UNAVAILABLE);
// the message says which and what to check.
Result<std::vector<CudaDevice>> ListCudaDevices();

// Runs a small kernel on `device` and checks its result: proves the driver, the runtime and
// this build's device code (the architectures it was compiled for) work together.
Status CudaSelfTest(int device);

}  // namespace train

#endif  // TRAIN_DEVICE_H_
