#include "mpi/mpi_runtime.h"

#include <cstdlib>
#include <utility>

#include "cpu/reduce_kernels.h"
#include "train/log.h"

namespace train::internal {
namespace {

constexpr ReduceOp kHalfReductions[] = {ReduceOp::kSum, ReduceOp::kMin, ReduceOp::kMax,
                                        ReduceOp::kProd};

int HalfDTypeIndex(DType dtype) { return dtype == DType::kFloat16 ? 0 : 1; }

int HalfOpIndex(ReduceOp op) {
  for (int i = 0; i < 4; ++i) {
    if (kHalfReductions[i] == op) return i;
  }
  TRAIN_CHECK(false && "kAvg reaches MPI as a sum");
  return 0;
}

// MPI's user-function contract: inout[i] = in[i] op inout[i]. Every op here is commutative.
template <DType kDType, ReduceOp kOp>
void ReduceHalves(void* in, void* inout, int* len, MPI_Datatype* /*datatype*/) {
  ReduceInto(kDType, kOp, inout, in, static_cast<std::uint64_t>(*len));
}

using UserFunction = void (*)(void*, void*, int*, MPI_Datatype*);

template <DType kDType>
constexpr UserFunction kHalfFunctions[4] = {
    &ReduceHalves<kDType, ReduceOp::kSum>, &ReduceHalves<kDType, ReduceOp::kMin>,
    &ReduceHalves<kDType, ReduceOp::kMax>, &ReduceHalves<kDType, ReduceOp::kProd>};

std::string ThreadLevelName(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE:
      return "MPI_THREAD_MULTIPLE";
    default:
      return "thread level " + std::to_string(level);
  }
}

MpiRuntime* instance = nullptr;  // lives until exit: FinalizeAtExit uses it

}  // namespace

Status MpiError(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return InternalError(
      std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
      (length > 0 ? std::string(text, length) : "MPI error " + std::to_string(code)));
}

Result<MpiRuntime*> MpiRuntime::Get() {
  static std::mutex mu;
  static Status init_status;
  std::lock_guard lock(mu);
  if (instance == nullptr) {
    instance = new MpiRuntime();
    init_status = instance->Init();
  }
  if (!init_status.ok()) return init_status;
  return instance;
}

Status MpiRuntime::Init() {
  int initialized = 0;
  TRAIN_MPI_RETURN_IF_ERROR(MPI_Initialized(&initialized));
  if (initialized) {
    TRAIN_MPI_RETURN_IF_ERROR(MPI_Query_thread(&thread_level_));
    if (thread_level_ < MPI_THREAD_SERIALIZED) {
      return FailedPreconditionError(
          "the program initialized MPI at " + ThreadLevelName(thread_level_) +
          "; the MPI backend runs ops on a progress thread and needs MPI_THREAD_SERIALIZED at "
          "least: initialize with MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...), or let "
          "Communicator::Create initialize MPI");
    }
  } else {
    TRAIN_MPI_RETURN_IF_ERROR(
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &thread_level_));
    we_initialized_ = true;
    // At exit: after main returned and its communicators were destroyed.
    if (std::atexit(&MpiRuntime::FinalizeAtExit) != 0) {
      LogWarning(
          "could not register MPI_Finalize at exit; mpirun may report this rank as "
          "having exited without finalizing");
    }
    if (thread_level_ < MPI_THREAD_SERIALIZED) {
      return FailedPreconditionError(
          "this MPI library offers only " + ThreadLevelName(thread_level_) +
          "; the MPI backend runs ops on a progress thread and needs MPI_THREAD_SERIALIZED at "
          "least (Open MPI must be built with thread support)");
    }
  }
  for (int i = 0; i < 4; ++i) {
    TRAIN_MPI_RETURN_IF_ERROR(
        MPI_Op_create(kHalfFunctions<DType::kFloat16>[i], /*commute=*/1, &half_ops_[0][i]));
    TRAIN_MPI_RETURN_IF_ERROR(
        MPI_Op_create(kHalfFunctions<DType::kBFloat16>[i], /*commute=*/1, &half_ops_[1][i]));
  }
  return Status::Ok();
}

void MpiRuntime::FinalizeAtExit() {
  if (instance == nullptr || !instance->we_initialized_) return;
  int finalized = 0;
  if (MPI_Finalized(&finalized) != MPI_SUCCESS || finalized) return;
  for (auto& ops : instance->half_ops_) {
    for (MPI_Op& op : ops) {
      if (op != MPI_OP_NULL && op != MPI_Op{}) MPI_Op_free(&op);
    }
  }
  const int rc = MPI_Finalize();
  if (rc != MPI_SUCCESS) LogWarning(MpiError(rc, "MPI_Finalize", __FILE__, __LINE__).ToString());
}

std::unique_lock<std::mutex> MpiRuntime::Lock() {
  if (thread_level_ >= MPI_THREAD_MULTIPLE) return std::unique_lock<std::mutex>();
  return std::unique_lock<std::mutex>(serialize_mu_);
}

MPI_Op MpiRuntime::HalfOp(DType dtype, ReduceOp op) const {
  return half_ops_[HalfDTypeIndex(dtype)][HalfOpIndex(op)];
}

MpiComm::MpiComm(MpiComm&& other) noexcept : comm_(std::exchange(other.comm_, MPI_COMM_NULL)) {}

MpiComm& MpiComm::operator=(MpiComm&& other) noexcept {
  if (this != &other) {
    MpiComm doomed(std::exchange(comm_, std::exchange(other.comm_, MPI_COMM_NULL)));
  }
  return *this;
}

MpiComm::~MpiComm() {
  if (comm_ == MPI_COMM_NULL || comm_ == MPI_COMM_WORLD) return;
  int finalized = 0;
  if (MPI_Finalized(&finalized) != MPI_SUCCESS || finalized) return;
  auto runtime = MpiRuntime::Get();
  std::unique_lock<std::mutex> lock;
  if (runtime.ok()) lock = (*runtime)->Lock();
  const int rc = MPI_Comm_free(&comm_);
  if (rc != MPI_SUCCESS) LogWarning(MpiError(rc, "MPI_Comm_free", __FILE__, __LINE__).ToString());
}

}  // namespace train::internal
