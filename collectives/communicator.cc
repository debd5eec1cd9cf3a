// Communicator::Create: picks the backend and hands over to it.
#include "train/communicator.h"

#include <memory>
#include <string>

#include "common/backends.h"
#include "cpu/route_address.h"
#include "train/defaults.h"
#include "train/worker.h"

namespace train {
namespace {

Status CheckArgs(Store *store, int rank, int world_size, const CommunicatorOptions &options) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return InvalidArgumentError("Communicator::Create: rank " + std::to_string(rank) +
                                " is not in a world of " + std::to_string(world_size));
  }
  if (options.timeout.count() < 0) {
    return InvalidArgumentError(
        "CommunicatorOptions::timeout must be positive (or 0 for the "
        "default), it is " +
        std::to_string(options.timeout.count()) + " ms");
  }
  if (options.name.empty() || options.name.find(' ') != std::string::npos) {
    return InvalidArgumentError(
        "CommunicatorOptions::name must be non-empty without spaces, it is \"" + options.name +
        "\"");
  }
  if (store == nullptr && world_size > 1 && options.backend != CommBackend::kMpi) {
    return FailedPreconditionError("Communicator::Create: a world of " +
                                   std::to_string(world_size) +
                                   " needs a store to meet through (start the "
                                   "job with trainctl or torchrun, or use the "
                                   "MPI backend under mpirun)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Communicator>> FromPlugin(std::string_view name,
                                                 const internal::BackendArgs &args) {
  TRAIN_ASSIGN_OR_RETURN(auto factory, internal::LoadBackendPlugin(name));
  return factory(args);
}

}  // namespace

std::string Communicator::Describe() const {
  return std::string(CommBackendName(backend())) + " communicator \"" + options().name +
         "\": rank " + std::to_string(rank()) + " of " + std::to_string(world_size());
}

Result<std::unique_ptr<Communicator>> Communicator::Create(Store *store, int rank, int world_size,
                                                           const CommunicatorOptions &options) {
  TRAIN_RETURN_IF_ERROR(CheckArgs(store, rank, world_size, options));
  internal::BackendArgs args{store, rank, world_size, options};
  if (args.options.timeout.count() == 0) args.options.timeout = defaults::kCollectiveTimeout;
  CommBackend backend = options.backend;
  if (backend == CommBackend::kAuto) {
    backend = options.device == Device::kCuda ? CommBackend::kNccl : CommBackend::kCpu;
  }
  args.options.backend = backend;
  switch (backend) {
    case CommBackend::kCpu:
      if (options.device != Device::kCpu) {
        return InvalidArgumentError(
            "the cpu communicator works on CPU memory; "
            "for CUDA tensors use backend nccl "
            "(or auto)");
      }
      return internal::CreateCpuCommunicator(args);
    case CommBackend::kNccl:
      if (options.device != Device::kCuda) {
        return InvalidArgumentError(
            "the nccl communicator works on CUDA memory: "
            "set CommunicatorOptions::device to "
            "kCuda, or use backend cpu for CPU tensors");
      }
      return FromPlugin("nccl", args);
    case CommBackend::kMpi:
      return FromPlugin("mpi", args);
    case CommBackend::kAuto:
      break;
  }
  return InternalError("no backend chosen");
}

Result<std::unique_ptr<Communicator>> Communicator::Create(Worker &worker,
                                                           const CommunicatorOptions &options) {
  const WorkerEnv &env = worker.env();
  CommunicatorOptions chosen = options;
  if (chosen.backend == CommBackend::kAuto && !env.collective_backend.empty()) {
    TRAIN_ASSIGN_OR_RETURN(chosen.backend, ParseCommBackend(env.collective_backend));
  }
  if (chosen.timeout.count() == 0 && env.collective_timeout_ms > 0) {
    chosen.timeout = Milliseconds(env.collective_timeout_ms);
  }
  if (chosen.timeout.count() == 0) chosen.timeout = defaults::kCollectiveTimeout;
  const bool under_mpirun = env.launcher == Launcher::kOpenMpi;
  if (chosen.backend == CommBackend::kAuto && under_mpirun) {
    if (chosen.device == Device::kCuda) {
      // NCCL for the tensors, its unique id exchanged through MPI.
      CommunicatorOptions cpu = chosen;
      cpu.backend = CommBackend::kMpi;
      cpu.device = Device::kCpu;
      cpu.name = chosen.name + "/bootstrap";
      TRAIN_ASSIGN_OR_RETURN(auto mpi, Create(worker.store(), env.rank, env.world_size, cpu));
      chosen.backend = CommBackend::kNccl;
      internal::BackendArgs args{worker.store(), env.rank, env.world_size, chosen, mpi.get()};
      return FromPlugin("nccl", args);
    }
    chosen.backend = CommBackend::kMpi;
  }
  if (chosen.listen_host.empty() && env.store) {
    // Other hosts reach this rank on the interface that routes to the store's
    // host.
    chosen.listen_host = internal::RouteAddressTo(env.store->host);
  }
  return Create(worker.store(), env.rank, env.world_size, chosen);
}

}  // namespace train
