// MPI for the whole process: initialized once (unless the program did it), finalized at exit
// only when we initialized it, the thread level it runs at, and the MPI_Ops of the 16-bit
// floats. Every MPI call of the backend takes Lock() first: a no-op under
// MPI_THREAD_MULTIPLE, one process-wide mutex under MPI_THREAD_SERIALIZED.
#ifndef TRAIN_COLLECTIVES_MPI_MPI_RUNTIME_H_
#define TRAIN_COLLECTIVES_MPI_MPI_RUNTIME_H_

#include <mpi.h>

#include <mutex>
#include <string>

#include "train/communicator.h"

namespace train::internal {

// "<call> failed at file:line: <MPI_Error_string>".
Status MpiError(int code, const char* call, const char* file, int line);

class MpiRuntime {
 public:
  // Initializes MPI on first use (MPI_THREAD_MULTIPLE when the library offers it,
  // MPI_THREAD_SERIALIZED at least: ops run on progress threads) and registers MPI_Finalize
  // at exit. FAILED_PRECONDITION when the program initialized MPI at a lower level.
  static Result<MpiRuntime*> Get();

  // Held around every MPI call.
  std::unique_lock<std::mutex> Lock();

  // The MPI_Op that reduces float16 or bfloat16 (widened to float32, rounded once per pair)
  // with `op` (kSum, kMin, kMax or kProd); MPI has no 16-bit float types of its own.
  MPI_Op HalfOp(DType dtype, ReduceOp op) const;

  int thread_level() const { return thread_level_; }

 private:
  MpiRuntime() = default;
  Status Init();
  static void FinalizeAtExit();

  int thread_level_ = MPI_THREAD_SINGLE;
  bool we_initialized_ = false;
  std::mutex serialize_mu_;
  // [dtype: float16, bfloat16][op: sum, min, max, prod]
  MPI_Op half_ops_[2][4] = {};
};

// Owns an MPI_Comm (not MPI_COMM_WORLD): freed when destroyed, unless MPI is finalized by
// then or the communicator was leaked (an op on it never completed).
class MpiComm {
 public:
  MpiComm() = default;
  explicit MpiComm(MPI_Comm comm) : comm_(comm) {}
  MpiComm(MpiComm&& other) noexcept;
  MpiComm& operator=(MpiComm&& other) noexcept;
  ~MpiComm();

  MPI_Comm get() const { return comm_; }
  // Keeps the communicator past this object: MPI cannot free a communicator with a
  // collective still running on it.
  void Leak() { comm_ = MPI_COMM_NULL; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

}  // namespace train::internal

// Returns the Status of a failed MPI call from the enclosing function.
#define TRAIN_MPI_RETURN_IF_ERROR(call)                                             \
  do {                                                                              \
    const int train_mpi_rc_ = (call);                                               \
    if (train_mpi_rc_ != MPI_SUCCESS) {                                             \
      return ::train::internal::MpiError(train_mpi_rc_, #call, __FILE__, __LINE__); \
    }                                                                               \
  } while (false)

#endif  // TRAIN_COLLECTIVES_MPI_MPI_RUNTIME_H_
