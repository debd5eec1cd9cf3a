// The CUDA implementation of train::FusedOptimizer, behind FusedOptimizer::Create. Builds
// without CUDA link a version that reports how to get one.
#ifndef TRAIN_KERNELS_CUDA_OPTIMIZER_H_
#define TRAIN_KERNELS_CUDA_OPTIMIZER_H_

#include <memory>
#include <vector>

#include "train/optimizer.h"
#include "train/status.h"

namespace train::cuda {

// `options` and `groups` were validated by FusedOptimizer::Create (kCuda tensors on one
// device). UNAVAILABLE when no driver or device can be used, FAILED_PRECONDITION when this
// build has no CUDA or the kind is not supported on CUDA.
Result<std::unique_ptr<FusedOptimizer>> CreateCudaOptimizer(const OptimizerOptions& options,
                                                            std::vector<ParamGroup> groups);

}  // namespace train::cuda

#endif  // TRAIN_KERNELS_CUDA_OPTIMIZER_H_
