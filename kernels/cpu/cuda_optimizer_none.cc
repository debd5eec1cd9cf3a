// CreateCudaOptimizer in a build without CUDA: a clear error instead of a missing symbol.
#include <memory>
#include <vector>

#include "../cuda_optimizer.h"

namespace train::cuda {

Result<std::unique_ptr<FusedOptimizer>> CreateCudaOptimizer(const OptimizerOptions&,
                                                            std::vector<ParamGroup>) {
  return FailedPreconditionError(
      "this libtrain was built without CUDA; rebuild with -DTRAIN_WITH_CUDA=ON (and the CUDA "
      "Toolkit installed) to run FusedOptimizer on Device::kCuda tensors, or pass CPU tensors");
}

}  // namespace train::cuda
