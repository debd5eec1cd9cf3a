// What this libtrain is: its version and the optional parts it was built with.
#ifndef TRAIN_VERSION_H_
#define TRAIN_VERSION_H_

#include <string_view>

namespace train {

// "0.1.0": the library's semantic version.
std::string_view LibraryVersion();

// True when the CUDA parts (kernels, device probing) were compiled in (TRAIN_WITH_CUDA).
bool BuiltWithCuda();

}  // namespace train

#endif  // TRAIN_VERSION_H_
