// libtrain-nccl.so's entry point: what LoadBackendPlugin("nccl") resolves.
#include <string_view>

#include "common/backends.h"
#include "nccl/nccl_communicator.h"

static_assert(std::string_view(train::internal::kPluginEntryPoint) ==
                  "train_communicator_backend_v1",
              "the exported function below must carry the name the loader looks up");

extern "C" __attribute__((visibility("default"))) train::internal::BackendFactory
train_communicator_backend_v1() {
  return &train::internal::CreateNcclCommunicator;
}
