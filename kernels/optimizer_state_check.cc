#include "optimizer_state_check.h"

#include <algorithm>

namespace train::internal {

Status CheckImportedState(const OptimizerState& state, const std::vector<OwnedBuffer>& owned) {
  if (state.names.size() != state.buffers.size()) {
    return InvalidArgumentError("ImportState: " + std::to_string(state.names.size()) +
                                " names but " + std::to_string(state.buffers.size()) +
                                " buffers: the state is corrupt");
  }
  if (state.step < 0) {
    return InvalidArgumentError("ImportState: step " + std::to_string(state.step) + " < 0");
  }
  for (std::size_t i = 0; i < std::max(owned.size(), state.names.size()); ++i) {
    if (i >= state.names.size()) {
      return InvalidArgumentError("ImportState: missing buffer " + *owned[i].name +
                                  ": the state comes from an optimizer with other options");
    }
    if (i >= owned.size() || state.names[i] != *owned[i].name) {
      return InvalidArgumentError(
          "ImportState: buffer " + std::to_string(i) + " is " + state.names[i] + ", expected " +
          (i < owned.size() ? *owned[i].name : std::string("none")) +
          ": build the optimizer with the same options and groups as the exported one");
    }
    if (state.buffers[i].size() != owned[i].bytes) {
      return InvalidArgumentError("ImportState: " + state.names[i] + " has " +
                                  std::to_string(state.buffers[i].size()) + " bytes, expected " +
                                  std::to_string(owned[i].bytes) +
                                  ": the tensor sizes or moment dtype differ");
    }
  }
  return Status::Ok();
}

}  // namespace train::internal
