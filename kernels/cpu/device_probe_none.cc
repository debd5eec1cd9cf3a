// The CUDA entry points of a build without CUDA (TRAIN_WITH_CUDA=OFF or no nvcc found).
#include "train/device.h"

namespace train {
namespace {
Status NoCuda() {
  return FailedPreconditionError(
      "this libtrain was built without CUDA; rebuild with the CUDA Toolkit installed "
      "(cmake -DTRAIN_WITH_CUDA=ON)");
}
}  // namespace

Result<std::vector<CudaDevice>> ListCudaDevices() { return NoCuda(); }
Status CudaSelfTest(int) { return NoCuda(); }

}  // namespace train
