#include "nccl/nccl_communicator.h"

#include <chrono>
#include <string>
#include <utility>

#include "common/op.h"
#include "common/work_state.h"
#include "nccl/divide_kernel.h"
#include "nccl/nccl_status.h"
#include "nccl/nccl_unique_id.h"

namespace train::internal {
namespace {

ncclDataType_t NcclType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return ncclFloat32;
    case DType::kFloat64:
      return ncclFloat64;
    case DType::kFloat16:
      return ncclFloat16;
    case DType::kBFloat16:
      return ncclBfloat16;
    case DType::kInt32:
      return ncclInt32;
    case DType::kInt64:
      return ncclInt64;
    case DType::kUInt8:
      return ncclUint8;
    default:
      break;
  }
  TRAIN_CHECK(IsCollectiveDType(dtype));  // CheckTensor let an unsupported dtype through
  return ncclFloat32;
}

// kAvg is summed by NCCL and then divided by DivideOnDevice (see divide_kernel.h).
ncclRedOp_t NcclOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return ncclSum;
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kProd:
      return ncclProd;
  }
  return ncclSum;
}

// The division of a kAvg, after NCCL summed into `out`.
NcclQueue::Finish AverageFinish(ReduceOp op, const TensorView& out, int world_size) {
  if (op != ReduceOp::kAvg) return nullptr;
  return [out, world_size](cudaStream_t stream) {
    return DivideOnDevice(out.dtype, out.data, out.numel, world_size, stream);
  };
}

}  // namespace

Status CheckCudaDevice(int device_index) {
  const std::string instead =
      "; on a machine without a GPU use the CPU backend (CommunicatorOptions::backend = "
      "CommBackend::kCpu, device = Device::kCpu)";
  if (device_index < 0) {
    return InvalidArgumentError("CommunicatorOptions::device_index is " +
                                std::to_string(device_index) + "; CUDA devices count from 0");
  }
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    return FailedPreconditionError(
        std::string("the NCCL backend needs a CUDA GPU, but this process cannot use any: "
                    "cudaGetDeviceCount failed with ") +
        cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
        "); check nvidia-smi, the driver version and CUDA_VISIBLE_DEVICES" + instead);
  }
  if (count <= device_index) {
    return FailedPreconditionError(
        "the NCCL backend was asked for CUDA device " + std::to_string(device_index) +
        " (CommunicatorOptions::device_index) but this process sees " + std::to_string(count) +
        " CUDA device(s); check CUDA_VISIBLE_DEVICES and the number of ranks per node" +
        (count == 0 ? instead : ""));
  }
  return Status::Ok();
}

Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(const BackendArgs& args) {
  const CommunicatorOptions& options = args.options;
  if (options.device != Device::kCuda) {
    return InvalidArgumentError(
        "the NCCL backend works on CUDA memory: set CommunicatorOptions::device to "
        "Device::kCuda (or use the CPU backend for CPU tensors)");
  }
  if (args.world_size < 1 || args.rank < 0 || args.rank >= args.world_size) {
    return InvalidArgumentError("rank " + std::to_string(args.rank) +
                                " is not a rank of a world of " + std::to_string(args.world_size));
  }
  TRAIN_RETURN_IF_ERROR(CheckCudaDevice(options.device_index));
  TRAIN_CUDA_RETURN_IF_ERROR(cudaSetDevice(options.device_index));
  const Deadline deadline = std::chrono::steady_clock::now() + options.timeout;
  TRAIN_ASSIGN_OR_RETURN(const ncclUniqueId id, ExchangeUniqueId(args, deadline));
  TRAIN_ASSIGN_OR_RETURN(NcclComm comm, NcclComm::Init(args.world_size, id, args.rank, deadline));
  return NcclCommunicator::Create(std::move(comm), args.rank, args.world_size, options, args.store);
}

Result<std::unique_ptr<Communicator>> NcclCommunicator::Create(NcclComm comm, int rank,
                                                               int world_size,
                                                               CommunicatorOptions options,
                                                               Store* store) {
  ScopedCudaDevice device(options.device_index);
  TRAIN_RETURN_IF_ERROR(device.status());
  TRAIN_ASSIGN_OR_RETURN(DeviceBuffer barrier_cell, DeviceBuffer::Allocate(1));
  NcclQueue::Config config;
  config.rank = rank;
  config.world_size = world_size;
  config.device = options.device_index;
  config.name = options.name;
  config.timeout = options.timeout;
  config.store = store;
  TRAIN_ASSIGN_OR_RETURN(std::shared_ptr<NcclQueue> queue,
                         NcclQueue::Create(std::move(comm), std::move(config)));
  return std::unique_ptr<Communicator>(new NcclCommunicator(
      std::move(barrier_cell), std::move(queue), rank, world_size, std::move(options), store));
}

NcclCommunicator::NcclCommunicator(DeviceBuffer barrier_cell, std::shared_ptr<NcclQueue> queue,
                                   int rank, int world_size, CommunicatorOptions options,
                                   Store* store)
    : barrier_cell_(std::move(barrier_cell)),
      queue_(std::move(queue)),
      rank_(rank),
      world_size_(world_size),
      options_(std::move(options)),
      store_(store) {}

Status NcclCommunicator::CheckDeviceTensor(std::string_view op, std::string_view arg,
                                           const TensorView& tensor) const {
  TRAIN_RETURN_IF_ERROR(CheckTensor(op, arg, tensor, Device::kCuda));
  const std::string where = std::string(op) + ": `" + std::string(arg) + "`";
  if (tensor.device_index != options_.device_index) {
    return InvalidArgumentError(
        where + " is on CUDA device " + std::to_string(tensor.device_index) +
        " but the communicator uses device " + std::to_string(options_.device_index));
  }
  if (tensor.numel == 0) return Status::Ok();
  // A host pointer given to NCCL would fault on the device and poison the CUDA context.
  cudaPointerAttributes attributes{};
  const cudaError_t err = cudaPointerGetAttributes(&attributes, tensor.data);
  if (err != cudaSuccess) {
    return InvalidArgumentError(where + ": cudaPointerGetAttributes failed (" +
                                cudaGetErrorName(err) + "); is it CUDA memory?");
  }
  if (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged) {
    return InvalidArgumentError(where +
                                " is not device memory (cudaMalloc'ed or managed); the NCCL "
                                "backend reads and writes CUDA device memory only");
  }
  if (attributes.type == cudaMemoryTypeDevice && attributes.device != options_.device_index) {
    return InvalidArgumentError(
        where + " was allocated on CUDA device " + std::to_string(attributes.device) +
        " but the communicator uses device " + std::to_string(options_.device_index));
  }
  return Status::Ok();
}

std::shared_ptr<Work> NcclCommunicator::AllReduce(TensorView in, TensorView out, ReduceOp op,
                                                  OpOptions options) {
  const OpRecord record{CollectiveKind::kAllReduce, op, in.dtype, in.numel};
  Status status = CheckDeviceTensor("allreduce", "in", in);
  if (status.ok()) status = CheckDeviceTensor("allreduce", "out", out);
  if (status.ok()) status = CheckSameShape("allreduce", in, out);
  if (!status.ok()) return WorkState::Failed(record.Describe(), status);
  NcclQueue::Launch launch;
  if (in.numel > 0) {
    launch = [in, out, op](ncclComm_t comm, cudaStream_t stream) {
      return ncclAllReduce(in.data, out.data, in.numel, NcclType(in.dtype), NcclOp(op), comm,
                           stream);
    };
  }
  return queue_->Enqueue(record, options.timeout, "ncclAllReduce", launch,
                         AverageFinish(op, out, world_size_));
}

std::shared_ptr<Work> NcclCommunicator::ReduceScatter(TensorView in, TensorView out, ReduceOp op,
                                                      OpOptions options) {
  const OpRecord record{CollectiveKind::kReduceScatter, op, out.dtype, out.numel};
  Status status = CheckDeviceTensor("reducescatter", "in", in);
  if (status.ok()) status = CheckDeviceTensor("reducescatter", "out", out);
  if (status.ok()) status = CheckBlocks("reducescatter", "in", in, "out", out, world_size_);
  if (!status.ok()) return WorkState::Failed(record.Describe(), status);
  NcclQueue::Launch launch;
  if (out.numel > 0) {
    launch = [in, out, op](ncclComm_t comm, cudaStream_t stream) {
      return ncclReduceScatter(in.data, out.data, out.numel, NcclType(out.dtype), NcclOp(op), comm,
                               stream);
    };
  }
  return queue_->Enqueue(record, options.timeout, "ncclReduceScatter", launch,
                         AverageFinish(op, out, world_size_));
}

std::shared_ptr<Work> NcclCommunicator::AllGather(TensorView in, TensorView out,
                                                  OpOptions options) {
  const OpRecord record{CollectiveKind::kAllGather, ReduceOp::kSum, in.dtype, in.numel};
  Status status = CheckDeviceTensor("allgather", "in", in);
  if (status.ok()) status = CheckDeviceTensor("allgather", "out", out);
  if (status.ok()) status = CheckBlocks("allgather", "out", out, "in", in, world_size_);
  if (!status.ok()) return WorkState::Failed(record.Describe(), status);
  NcclQueue::Launch launch;
  if (in.numel > 0) {
    launch = [in, out](ncclComm_t comm, cudaStream_t stream) {
      return ncclAllGather(in.data, out.data, in.numel, NcclType(in.dtype), comm, stream);
    };
  }
  return queue_->Enqueue(record, options.timeout, "ncclAllGather", launch);
}

std::shared_ptr<Work> NcclCommunicator::Broadcast(TensorView inout, int root, OpOptions options) {
  const OpRecord record{CollectiveKind::kBroadcast, ReduceOp::kSum, inout.dtype, inout.numel, root};
  Status status = CheckDeviceTensor("broadcast", "inout", inout);
  if (status.ok()) status = CheckRoot("broadcast", root, world_size_);
  if (!status.ok()) return WorkState::Failed(record.Describe(), status);
  NcclQueue::Launch launch;
  if (inout.numel > 0) {
    launch = [inout, root](ncclComm_t comm, cudaStream_t stream) {
      return ncclBroadcast(inout.data, inout.data, inout.numel, NcclType(inout.dtype), root, comm,
                           stream);
    };
  }
  return queue_->Enqueue(record, options.timeout, "ncclBroadcast", launch);
}

std::shared_ptr<Work> NcclCommunicator::Barrier(OpOptions options) {
  const OpRecord record{CollectiveKind::kBarrier};
  void* cell = barrier_cell_.get();
  // Done once every rank's one-byte contribution arrived: all of them issued the barrier.
  return queue_->Enqueue(record, options.timeout, "ncclAllReduce",
                         [cell](ncclComm_t comm, cudaStream_t stream) {
                           return ncclAllReduce(cell, cell, 1, ncclUint8, ncclMax, comm, stream);
                         });
}

Result<std::unique_ptr<Communicator>> NcclCommunicator::Split(int color, int key) {
  const std::uint64_t split = ++splits_;
  TRAIN_ASSIGN_OR_RETURN(NcclComm child, queue_->Split(color, key));
  if (color < 0) return std::unique_ptr<Communicator>();
  int child_rank = 0;
  int child_size = 0;
  TRAIN_NCCL_RETURN_IF_ERROR(ncclCommUserRank(child.get(), &child_rank), child.get());
  TRAIN_NCCL_RETURN_IF_ERROR(ncclCommCount(child.get(), &child_size), child.get());
  CommunicatorOptions child_options = options_;
  child_options.name =
      options_.name + "/split" + std::to_string(split) + "/color" + std::to_string(color);
  return Create(std::move(child), child_rank, child_size, std::move(child_options), store_);
}

Result<std::unique_ptr<Communicator>> NcclCommunicator::SplitForHost() {
  if (store_ == nullptr) {
    return FailedPreconditionError("SplitForHost needs the job's store; " + options_.name +
                                   " has none");
  }
  CommunicatorOptions host;
  host.backend = CommBackend::kCpu;
  host.name = options_.name + "/host" + std::to_string(++host_splits_);
  host.timeout = options_.timeout;
  host.listen_host = options_.listen_host;
  host.host_id = options_.host_id;
  return Communicator::Create(store_, rank_, world_size_, host);
}

}  // namespace train::internal
