#include "mpi/mpi_communicator.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <thread>
#include <utility>

#include "cpu/reduce_kernels.h"
#include "train/log.h"

namespace train::internal {
namespace {

// MPI counts are ints: longer ops go in pieces of at most this many elements.
constexpr std::uint64_t kMaxCount = std::numeric_limits<int>::max();

MPI_Datatype MpiType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return MPI_FLOAT;
    case DType::kFloat64:
      return MPI_DOUBLE;
    case DType::kFloat16:
    case DType::kBFloat16:
      return MPI_UINT16_T;  // reduced by the runtime's own MPI_Ops
    case DType::kInt32:
      return MPI_INT32_T;
    case DType::kInt64:
      return MPI_INT64_T;
    case DType::kUInt8:
      return MPI_UINT8_T;
    default:
      break;
  }
  TRAIN_CHECK(false && "CheckTensor let an unsupported dtype through");
  return MPI_BYTE;
}

bool IsHalf(DType dtype) { return dtype == DType::kFloat16 || dtype == DType::kBFloat16; }

// kAvg is a sum followed by DivideBy.
MPI_Op MpiOp(const MpiRuntime& runtime, DType dtype, ReduceOp op) {
  if (op == ReduceOp::kAvg) op = ReduceOp::kSum;
  if (IsHalf(dtype)) return runtime.HalfOp(dtype, op);
  switch (op) {
    case ReduceOp::kMin:
      return MPI_MIN;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kProd:
      return MPI_PROD;
    default:
      return MPI_SUM;
  }
}

char* At(void* data, std::uint64_t elements, DType dtype) {
  return static_cast<char*>(data) + elements * DTypeSize(dtype);
}

bool Overlap(const TensorView& a, const TensorView& b) {
  const char* a_begin = static_cast<const char*>(a.data);
  const char* b_begin = static_cast<const char*>(b.data);
  return a.bytes() > 0 && b.bytes() > 0 && a_begin < b_begin + b.bytes() &&
         b_begin < a_begin + a.bytes();
}

Status TooLong(const OpContext& ctx, std::uint64_t count) {
  return InvalidArgumentError(ctx.op.Describe() + ": the MPI backend moves at most " +
                              std::to_string(kMaxCount) + " elements per rank in this op, not " +
                              std::to_string(count));
}

// Polls `request` until it completes (true) or `give_up()` (false: it stays posted). Back to
// back at first, as MPI progresses an op only inside MPI calls; after a second it is a
// straggler being waited for, and a poll per millisecond spares the core.
template <typename GiveUp>
Result<bool> PollRequest(MpiRuntime& runtime, MPI_Request* request, GiveUp give_up) {
  const auto started = std::chrono::steady_clock::now();
  while (true) {
    int done = 0;
    int rc = MPI_SUCCESS;
    {
      auto lock = runtime.Lock();
      rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
    }
    if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Test", __FILE__, __LINE__);
    if (done) return true;
    if (give_up()) return false;
    if (std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

}  // namespace

Result<std::unique_ptr<Communicator>> CreateMpiCommunicator(const BackendArgs& args) {
  const CommunicatorOptions& options = args.options;
  if (options.device != Device::kCpu) {
    return InvalidArgumentError(
        "the MPI backend works on CPU memory (CommunicatorOptions::device = Device::kCpu); "
        "CUDA tensors under mpirun go through NCCL");
  }
  TRAIN_ASSIGN_OR_RETURN(MpiRuntime * runtime, MpiRuntime::Get());
  int world_rank = 0;
  int world_size = 0;
  {
    auto lock = runtime->Lock();
    TRAIN_MPI_RETURN_IF_ERROR(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank));
    TRAIN_MPI_RETURN_IF_ERROR(MPI_Comm_size(MPI_COMM_WORLD, &world_size));
  }
  if (world_rank != args.rank || world_size != args.world_size) {
    return FailedPreconditionError(
        "the MPI backend was asked for rank " + std::to_string(args.rank) + " of " +
        std::to_string(args.world_size) + " but MPI_COMM_WORLD makes this process rank " +
        std::to_string(world_rank) + " of " + std::to_string(world_size) +
        "; under mpirun take the rank and world size from the environment "
        "(WorkerEnv::FromEnvironment), and start as many processes as the job has ranks");
  }

  // A duplicate keeps our traffic apart from the program's own use of MPI_COMM_WORLD;
  // MPI_Comm_idup, polled, gives up on a rank that never calls Create.
  MPI_Comm raw = MPI_COMM_NULL;
  MPI_Request request = MPI_REQUEST_NULL;
  {
    auto lock = runtime->Lock();
    TRAIN_MPI_RETURN_IF_ERROR(MPI_Comm_idup(MPI_COMM_WORLD, &raw, &request));
  }
  const Deadline deadline = std::chrono::steady_clock::now() + options.timeout;
  TRAIN_ASSIGN_OR_RETURN(const bool done, PollRequest(*runtime, &request, [deadline] {
                           return std::chrono::steady_clock::now() >= deadline;
                         }));
  if (!done) {
    return DeadlineExceededError(
        "rank " + std::to_string(args.rank) + " of " + std::to_string(args.world_size) +
        ": the MPI communicator \"" + options.name +
        "\" did not form within CommunicatorOptions::timeout (" +
        std::to_string(options.timeout.count()) + " ms): a rank did not call Create");
  }
  MpiComm comm(raw);
  {
    // Errors come back as codes (and become a Status) instead of ending the job.
    auto lock = runtime->Lock();
    TRAIN_MPI_RETURN_IF_ERROR(MPI_Comm_set_errhandler(comm.get(), MPI_ERRORS_RETURN));
  }
  return MpiCommunicator::Wrap(runtime, std::move(comm), args.store, args.rank, args.world_size,
                               options);
}

std::unique_ptr<Communicator> MpiCommunicator::Wrap(MpiRuntime* runtime, MpiComm comm, Store* store,
                                                    int rank, int world_size,
                                                    CommunicatorOptions options) {
  std::unique_ptr<MpiCommunicator> communicator(
      new MpiCommunicator(runtime, std::move(comm), store, rank, world_size, std::move(options)));
  communicator->StartProgress();
  return communicator;
}

MpiCommunicator::MpiCommunicator(MpiRuntime* runtime, MpiComm comm, Store* store, int rank,
                                 int world_size, CommunicatorOptions options)
    : QueuedCommunicator(store, rank, world_size, std::move(options)),
      runtime_(runtime),
      comm_(std::move(comm)) {}

MpiCommunicator::~MpiCommunicator() {
  StopProgress();
  if (abandoned_.empty()) return;
  int finalized = 0;
  if (MPI_Finalized(&finalized) == MPI_SUCCESS && finalized) return;
  // Freeing a communicator with a collective still posted on it is erroneous in MPI: unless
  // the abandoned ops have completed since (the peers caught up), it is kept.
  for (MPI_Request& request : abandoned_) {
    auto lock = runtime_->Lock();
    int done = 0;
    if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || !done) {
      LogWarning("communicator \"" + options().name +
                 "\": an MPI collective that timed out or was aborted is still posted; its "
                 "MPI communicator is left allocated");
      comm_.Leak();
      return;
    }
  }
}

template <typename Post>
Status MpiCommunicator::Run(const char* call, OpContext& ctx, Post post) {
  MPI_Request request = MPI_REQUEST_NULL;
  {
    auto lock = runtime_->Lock();
    const int rc = post(&request);
    if (rc != MPI_SUCCESS) {
      const Status error = MpiError(rc, call, __FILE__, __LINE__);
      return Status(error.code(), ctx.op.Describe() + ": " + error.message());
    }
  }
  Result<bool> done =
      PollRequest(*runtime_, &request, [&ctx] { return ctx.Aborted() || ctx.Expired(); });
  if (!done.ok()) {
    return Status(done.status().code(), ctx.op.Describe() + ": " + done.status().message());
  }
  if (!*done) {
    abandoned_.push_back(request);
    // MPI does not say which ranks are missing; the ledger names them when there is a store.
    return ctx.StopStatus({});
  }
  return Status::Ok();
}

Status MpiCommunicator::RunAllReduce(const TensorView& in, const TensorView& out, ReduceOp op,
                                     OpContext& ctx) {
  const MPI_Datatype type = MpiType(out.dtype);
  const MPI_Op mpi_op = MpiOp(*runtime_, out.dtype, op);
  const bool in_place = in.data == out.data;
  std::uint64_t offset = 0;
  do {
    const int count = static_cast<int>(std::min(out.numel - offset, kMaxCount));
    const void* send = in_place ? MPI_IN_PLACE : At(in.data, offset, in.dtype);
    void* receive = At(out.data, offset, out.dtype);
    TRAIN_RETURN_IF_ERROR(Run("MPI_Iallreduce", ctx, [&](MPI_Request* request) {
      return MPI_Iallreduce(send, receive, count, type, mpi_op, comm_.get(), request);
    }));
    offset += static_cast<std::uint64_t>(count);
  } while (offset < out.numel);
  if (op == ReduceOp::kAvg && out.numel > 0) DivideBy(out.dtype, out.data, out.numel, world_size());
  return Status::Ok();
}

Status MpiCommunicator::RunReduceScatter(const TensorView& in, const TensorView& out, ReduceOp op,
                                         OpContext& ctx) {
  if (out.numel > kMaxCount) return TooLong(ctx, out.numel);
  const MPI_Datatype type = MpiType(out.dtype);
  const MPI_Op mpi_op = MpiOp(*runtime_, out.dtype, op);
  // MPI's in-place reduce-scatter has another layout than ours: overlapping buffers go
  // through a copy.
  std::vector<char> staging(Overlap(in, out) ? out.bytes() : 0);
  void* receive = staging.empty() ? out.data : staging.data();
  const int count = static_cast<int>(out.numel);
  TRAIN_RETURN_IF_ERROR(Run("MPI_Ireduce_scatter_block", ctx, [&](MPI_Request* request) {
    return MPI_Ireduce_scatter_block(in.data, receive, count, type, mpi_op, comm_.get(), request);
  }));
  if (!staging.empty()) std::memcpy(out.data, staging.data(), staging.size());
  if (op == ReduceOp::kAvg && out.numel > 0) DivideBy(out.dtype, out.data, out.numel, world_size());
  return Status::Ok();
}

Status MpiCommunicator::RunAllGather(const TensorView& in, const TensorView& out, OpContext& ctx) {
  if (in.numel > kMaxCount) return TooLong(ctx, in.numel);
  const MPI_Datatype type = MpiType(in.dtype);
  const int count = static_cast<int>(in.numel);
  // `in` as block `rank` of `out` is MPI's in-place form; any other overlap goes through a copy.
  const bool in_place = in.data == At(out.data, in.numel * rank(), out.dtype);
  std::vector<char> staging(!in_place && Overlap(in, out) ? in.bytes() : 0);
  if (!staging.empty()) std::memcpy(staging.data(), in.data, staging.size());
  const void* send = in_place ? MPI_IN_PLACE : staging.empty() ? in.data : staging.data();
  return Run("MPI_Iallgather", ctx, [&](MPI_Request* request) {
    return MPI_Iallgather(send, count, type, out.data, count, type, comm_.get(), request);
  });
}

Status MpiCommunicator::RunBroadcast(const TensorView& inout, int root, OpContext& ctx) {
  const MPI_Datatype type = MpiType(inout.dtype);
  std::uint64_t offset = 0;
  do {
    const int count = static_cast<int>(std::min(inout.numel - offset, kMaxCount));
    void* data = At(inout.data, offset, inout.dtype);
    TRAIN_RETURN_IF_ERROR(Run("MPI_Ibcast", ctx, [&](MPI_Request* request) {
      return MPI_Ibcast(data, count, type, root, comm_.get(), request);
    }));
    offset += static_cast<std::uint64_t>(count);
  } while (offset < inout.numel);
  return Status::Ok();
}

Status MpiCommunicator::RunBarrier(OpContext& ctx) {
  return Run("MPI_Ibarrier", ctx,
             [&](MPI_Request* request) { return MPI_Ibarrier(comm_.get(), request); });
}

Result<std::unique_ptr<Communicator>> MpiCommunicator::Split(int color, int key) {
  TRAIN_RETURN_IF_ERROR(Barrier()->Wait().WithContext("Split"));
  const std::uint64_t split = ++splits_;
  MPI_Comm raw = MPI_COMM_NULL;
  {
    auto lock = runtime_->Lock();
    TRAIN_MPI_RETURN_IF_ERROR(
        MPI_Comm_split(comm_.get(), color < 0 ? MPI_UNDEFINED : color, key, &raw));
  }
  if (color < 0) return std::unique_ptr<Communicator>();
  MpiComm child(raw);
  int child_rank = 0;
  int child_size = 0;
  {
    auto lock = runtime_->Lock();
    TRAIN_MPI_RETURN_IF_ERROR(MPI_Comm_set_errhandler(child.get(), MPI_ERRORS_RETURN));
    TRAIN_MPI_RETURN_IF_ERROR(MPI_Comm_rank(child.get(), &child_rank));
    TRAIN_MPI_RETURN_IF_ERROR(MPI_Comm_size(child.get(), &child_size));
  }
  CommunicatorOptions child_options = options();
  child_options.name =
      options().name + "/split" + std::to_string(split) + "/color" + std::to_string(color);
  return Wrap(runtime_, std::move(child), store(), child_rank, child_size,
              std::move(child_options));
}

Result<std::unique_ptr<Communicator>> MpiCommunicator::MakeChild(int /*rank*/, int /*world_size*/,
                                                                 CommunicatorOptions options) {
  return InternalError("MpiCommunicator::MakeChild(" + options.name +
                       ") is not used: MPI communicators split with MPI_Comm_split");
}

}  // namespace train::internal
