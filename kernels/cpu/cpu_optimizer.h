// The CPU implementation of train::FusedOptimizer.
#ifndef TRAIN_KERNELS_CPU_CPU_OPTIMIZER_H_
#define TRAIN_KERNELS_CPU_CPU_OPTIMIZER_H_

#include <memory>
#include <vector>

#include "train/optimizer.h"
#include "train/status.h"

namespace train::cpu {

// `options` and `groups` were validated by FusedOptimizer::Create (kCpu tensors only).
std::unique_ptr<FusedOptimizer> CreateCpuOptimizer(const OptimizerOptions& options,
                                                   std::vector<ParamGroup> groups);

// The schedule's factor for 1-based step `t`.
double LrFactor(const LrSchedule& schedule, std::int64_t t);

}  // namespace train::cpu

#endif  // TRAIN_KERNELS_CPU_CPU_OPTIMIZER_H_
