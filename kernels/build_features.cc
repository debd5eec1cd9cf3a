#include "train/version.h"

#ifndef TRAIN_BUILT_WITH_CUDA
#define TRAIN_BUILT_WITH_CUDA false
#endif

namespace train {

// The build decides this (kernels/CMakeLists.txt), not the code.
bool BuiltWithCuda() { return TRAIN_BUILT_WITH_CUDA; }

}  // namespace train
