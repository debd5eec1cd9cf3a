// The ops in flight on an NCCL communicator: each is enqueued on the communicator's stream and
// followed by an event; a watchdog thread completes an op's Work when its event is done, and
// aborts the communicator (ncclCommAbort) when NCCL reports an error in the background or an
// op outlives its timeout. The first failure breaks the communicator: every op in flight
// fails with it, and later ops fail at once.
#ifndef TRAIN_COLLECTIVES_NCCL_NCCL_QUEUE_H_
#define TRAIN_COLLECTIVES_NCCL_NCCL_QUEUE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/op.h"
#include "common/op_ledger.h"
#include "common/work_state.h"
#include "nccl/cuda_handles.h"
#include "nccl/nccl_comm.h"
#include "train/defaults.h"

namespace train::internal {

class NcclQueue : public std::enable_shared_from_this<NcclQueue> {
 public:
  struct Config {
    int rank = 0;
    int world_size = 1;
    int device = 0;
    std::string name;  // the communicator's, for errors and the ledger
    Milliseconds timeout = defaults::kCollectiveTimeout;
    Store* store = nullptr;  // where blocked ops are published; may be null
  };

  // Takes `comm` (formed on config.device), creates the stream, starts the watchdog.
  static Result<std::shared_ptr<NcclQueue>> Create(NcclComm comm, Config config);
  // Flushes and closes the communicator (aborts it when the peers do not close in time).
  ~NcclQueue();
  NcclQueue(const NcclQueue&) = delete;
  NcclQueue& operator=(const NcclQueue&) = delete;

  // Enqueues one NCCL call on the stream. Null for an op with nothing to move.
  using Launch = std::function<ncclResult_t(ncclComm_t comm, cudaStream_t stream)>;
  // Enqueues device work after the NCCL call (an average's division). May be null.
  using Finish = std::function<cudaError_t(cudaStream_t stream)>;

  // Numbers `op`, enqueues `launch` (named `call` in errors) then `finish`, and returns the
  // op's Work.
  std::shared_ptr<Work> Enqueue(OpRecord op, Milliseconds timeout, const char* call,
                                const Launch& launch, const Finish& finish = nullptr);

  // ncclCommSplit of this communicator (empty for a negative color); a failure breaks it.
  Result<NcclComm> Split(int color, int key);

  // Fails every op in flight with ABORTED and aborts the communicator (Work::Abort).
  void Abort(const std::string& reason);

  // How often the watchdog looks at the ops in flight.
  static constexpr std::chrono::microseconds kPollInterval{50};

 private:
  struct PendingOp {
    OpRecord op;
    Deadline started;
    Deadline deadline;
    CudaEvent done;  // recorded after the op on stream_
    std::shared_ptr<WorkState> work;
    bool published = false;  // to the ledger, once blocked for a moment
  };
  // The first failure, and the op it belongs to (0: none in particular).
  struct Failure {
    Status status;
    std::uint64_t seq = 0;
  };

  NcclQueue(NcclComm comm, CudaStream stream, Config config);

  void WatchdogLoop();
  void Poll();
  // Records the first failure (later ones are ignored), aborts the communicator and fails
  // the ops in flight. Takes comm_mu_.
  void Fail(Status status, std::uint64_t seq);
  // The same with comm_mu_ already held.
  void FailLocked(Status status, std::uint64_t seq);
  // The status an op gets when the communicator failed.
  Status FailureFor(const OpRecord& op, const Failure& failure) const;
  std::string Label() const;

  const Config config_;
  OpLedger ledger_;

  // Guards comm_ and every NCCL call on it (NCCL calls on one communicator must not overlap).
  std::mutex comm_mu_;
  NcclComm comm_;
  CudaStream stream_;
  std::uint64_t next_seq_ = 1;

  // Set as soon as a failure is recorded: a settling call or a Close gives up at once.
  std::atomic<bool> aborting_{false};

  std::mutex mu_;  // guards what follows
  std::condition_variable wake_;
  std::deque<PendingOp> pending_;
  std::optional<Failure> failure_;
  bool stopping_ = false;

  std::thread watchdog_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_NCCL_NCCL_QUEUE_H_
