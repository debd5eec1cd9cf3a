// An owned ncclComm_t in nonblocking mode, so that forming it, splitting it and shutting it
// down honour a deadline instead of hanging on a rank that never shows up.
#ifndef TRAIN_COLLECTIVES_NCCL_NCCL_COMM_H_
#define TRAIN_COLLECTIVES_NCCL_NCCL_COMM_H_

#include <nccl.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/communicator.h"

namespace train::internal {

class NcclComm {
 public:
  // ncclCommInitRankConfig on the current CUDA device; waits until every rank joined, or
  // aborts at `deadline` with DEADLINE_EXCEEDED.
  static Result<NcclComm> Init(int world_size, const ncclUniqueId& id, int rank, Deadline deadline);

  NcclComm() = default;
  NcclComm(NcclComm&& other) noexcept
      : comm_(std::exchange(other.comm_, nullptr)),
        abandoned_splits_(std::move(other.abandoned_splits_)) {}
  NcclComm& operator=(NcclComm&& other) noexcept;
  // Aborts a communicator that was not closed (destructors cannot wait on peers).
  ~NcclComm();

  ncclComm_t get() const { return comm_; }
  explicit operator bool() const { return comm_ != nullptr; }

  // Settles a call that may return ncclInProgress: polls the communicator's state until it is
  // ncclSuccess (OK), an error (its Status), `deadline` passed (DEADLINE_EXCEEDED) or `stop`
  // was set (ABORTED). `call`, `file` and `line` name the call in errors.
  Status Settle(ncclResult_t result, const char* call, const char* file, int line,
                Deadline deadline, const std::atomic<bool>* stop = nullptr) const;

  // The error NCCL met in the background (network, peer), or ncclSuccess / ncclInProgress.
  ncclResult_t AsyncError() const;

  // ncclCommSplit: this rank's communicator of `color` (ordered by key), or an empty one for
  // a negative color. Collective over this communicator. Waits until NCCL formed the child
  // (this communicator reports ncclInProgress meanwhile); on a failure, or when `deadline`
  // passed or `stop` was set first, this communicator is left in progress or failed: the
  // caller aborts it, which also aborts the child NCCL was still forming.
  Result<NcclComm> Split(int color, int key, Deadline deadline,
                         const std::atomic<bool>* stop = nullptr);

  // Flushes the issued ops and frees the communicator once every rank did the same; aborts
  // it instead when that fails or does not finish by `deadline`, or `stop` is set. True when
  // it closed cleanly (every op issued completed).
  bool Close(Deadline deadline, const std::atomic<bool>* stop = nullptr);
  // ncclCommAbort: stops the kernels in flight and frees the communicator. Idempotent.
  void Abort();

 private:
  explicit NcclComm(ncclComm_t comm) : comm_(comm) {}
  // Aborts the children of the splits that failed or were given up; after comm_ was freed,
  // which waits for NCCL's split thread to finish writing their handles.
  void AbortAbandonedSplits();

  ncclComm_t comm_ = nullptr;
  // Where NCCL writes (from its own thread, when it is done) the child of a split that failed
  // or was given up: kept until comm_ is freed, so that the write never lands in freed memory.
  std::vector<std::unique_ptr<ncclComm_t>> abandoned_splits_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_NCCL_NCCL_COMM_H_
