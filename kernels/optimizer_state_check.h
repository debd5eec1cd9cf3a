// The checks ImportState makes on both paths: the state must come from an optimizer built with
// the same options and groups.
#ifndef TRAIN_KERNELS_OPTIMIZER_STATE_CHECK_H_
#define TRAIN_KERNELS_OPTIMIZER_STATE_CHECK_H_

#include <cstddef>
#include <string>
#include <vector>

#include "train/optimizer.h"

namespace train::internal {

// The name and byte size of each buffer an optimizer owns, in export order.
struct OwnedBuffer {
  const std::string* name;
  std::size_t bytes;
};

// OK when `state` holds exactly these buffers (names and sizes) and a valid step; otherwise
// INVALID_ARGUMENT naming the first difference and its likely cause.
Status CheckImportedState(const OptimizerState& state, const std::vector<OwnedBuffer>& owned);

}  // namespace train::internal

#endif  // TRAIN_KERNELS_OPTIMIZER_STATE_CHECK_H_
