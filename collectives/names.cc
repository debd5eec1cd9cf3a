// The names of the communicator's enumerations, as errors and benchmarks print them.
#include <string>

#include "train/communicator.h"

namespace train {

std::string_view ReduceOpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMin:
      return "min";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kProd:
      return "prod";
  }
  return "?";
}

std::string_view CommBackendName(CommBackend backend) {
  switch (backend) {
    case CommBackend::kAuto:
      return "auto";
    case CommBackend::kCpu:
      return "cpu";
    case CommBackend::kNccl:
      return "nccl";
    case CommBackend::kMpi:
      return "mpi";
  }
  return "?";
}

Result<CommBackend> ParseCommBackend(std::string_view name) {
  for (CommBackend b :
       {CommBackend::kAuto, CommBackend::kCpu, CommBackend::kNccl, CommBackend::kMpi}) {
    if (CommBackendName(b) == name) return b;
  }
  return InvalidArgumentError("unknown communicator backend \"" + std::string(name) +
                              "\": use auto, cpu, nccl or mpi");
}

}  // namespace train
