// How Communicator::Create reaches a backend. The CPU backend is part of libtrain; NCCL and MPI
// live in plugins loaded on first use (libtrain-nccl.so, libtrain-mpi.so beside libtrain.so,
// or in $TRAIN_PLUGIN_DIR), each exporting kPluginEntryPoint.
#ifndef TRAIN_COLLECTIVES_COMMON_BACKENDS_H_
#define TRAIN_COLLECTIVES_COMMON_BACKENDS_H_

#include <memory>
#include <string_view>

#include "train/communicator.h"

namespace train::internal {

struct BackendArgs {
  Store* store = nullptr;  // null under mpirun (the MPI plugin needs none)
  int rank = 0;
  int world_size = 1;
  CommunicatorOptions options;
  // For NCCL under mpirun: a CPU communicator of the same ranks to exchange the unique id
  // through (instead of the store). Null otherwise.
  Communicator* bootstrap = nullptr;
};

using BackendFactory = Result<std::unique_ptr<Communicator>> (*)(const BackendArgs& args);

// Shared memory within a host, TCP between hosts (collectives/cpu).
Result<std::unique_ptr<Communicator>> CreateCpuCommunicator(const BackendArgs& args);

// The factory a plugin exports (extern "C", returning its BackendFactory).
inline constexpr char kPluginEntryPoint[] = "train_communicator_backend_v1";

// Loads libtrain-<name>.so once and returns its factory. Errors name the files tried and the
// loader's reason (the plugin is absent when libtrain was built without CUDA or MPI).
Result<BackendFactory> LoadBackendPlugin(std::string_view name);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_BACKENDS_H_
