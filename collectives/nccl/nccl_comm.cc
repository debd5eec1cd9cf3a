#include "nccl/nccl_comm.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "nccl/nccl_status.h"
#include "train/log.h"

namespace train::internal {
namespace {

ncclConfig_t NonblockingConfig() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  return config;
}

// Polls without burning a core: the first checks back to back (a settling enqueue takes
// microseconds), then sleeps that grow up to 1 ms (forming a communicator takes longer).
class Backoff {
 public:
  void Pause() {
    if (++polls_ < 64) {
      std::this_thread::yield();
      return;
    }
    std::this_thread::sleep_for(sleep_);
    if (sleep_ < std::chrono::milliseconds(1)) sleep_ *= 2;
  }

 private:
  int polls_ = 0;
  std::chrono::microseconds sleep_{20};
};

}  // namespace

Result<NcclComm> NcclComm::Init(int world_size, const ncclUniqueId& id, int rank,
                                Deadline deadline) {
  ncclConfig_t config = NonblockingConfig();
  // Declared before `comm`, so it outlives it: NCCL writes the handle into it again when the
  // init ends, which aborting `comm` waits for.
  ncclComm_t raw = nullptr;
  const ncclResult_t result = ncclCommInitRankConfig(&raw, world_size, id, rank, &config);
  NcclComm comm(raw);  // owns it from here: aborted on any error below
  if (raw == nullptr) {
    return NcclError(result == ncclSuccess ? ncclInternalError : result, "ncclCommInitRankConfig",
                     __FILE__, __LINE__, nullptr);
  }
  Status status = comm.Settle(result, "ncclCommInitRankConfig", __FILE__, __LINE__, deadline);
  if (status.code() == StatusCode::kDeadlineExceeded) {
    return DeadlineExceededError("rank " + std::to_string(rank) + " of " +
                                 std::to_string(world_size) +
                                 ": the NCCL communicator did not form by the deadline "
                                 "(CommunicatorOptions::timeout): a rank did not call Create, "
                                 "or cannot reach this one over the network");
  }
  TRAIN_RETURN_IF_ERROR(status);
  return comm;
}

NcclComm& NcclComm::operator=(NcclComm&& other) noexcept {
  if (this != &other) {
    Abort();
    comm_ = std::exchange(other.comm_, nullptr);
    abandoned_splits_ = std::move(other.abandoned_splits_);
  }
  return *this;
}

NcclComm::~NcclComm() { Abort(); }

Status NcclComm::Settle(ncclResult_t result, const char* call, const char* file, int line,
                        Deadline deadline, const std::atomic<bool>* stop) const {
  Backoff backoff;
  while (result == ncclInProgress) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
      return AbortedError(std::string(call) + " was abandoned: the communicator is aborting");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError(std::string(call) + " at " + file + ":" + std::to_string(line) +
                                   " did not finish by the deadline");
    }
    backoff.Pause();
    const ncclResult_t query = ncclCommGetAsyncError(comm_, &result);
    if (query != ncclSuccess) result = query;
  }
  if (result != ncclSuccess) return NcclError(result, call, file, line, comm_);
  return Status::Ok();
}

ncclResult_t NcclComm::AsyncError() const {
  ncclResult_t state = ncclSuccess;
  const ncclResult_t query = ncclCommGetAsyncError(comm_, &state);
  return query != ncclSuccess ? query : state;
}

Result<NcclComm> NcclComm::Split(int color, int key, Deadline deadline,
                                 const std::atomic<bool>* stop) {
  // The child inherits this communicator's nonblocking config, so the split runs on NCCL's
  // own thread: ncclCommSplit returns at once, with ncclSuccess rather than ncclInProgress
  // (NCCL 2.28), and leaves the handle null; this communicator reports ncclInProgress until
  // the thread is done, and the thread writes the child's handle into `slot` as it ends. So
  // the state to wait on is this communicator's, whatever the call returned, and the child is
  // read only after that.
  auto slot = std::make_unique<ncclComm_t>(nullptr);
  const auto child_of = [&slot] {
    return std::atomic_ref<ncclComm_t>(*slot).load(std::memory_order_acquire);
  };
  ncclResult_t result =
      ncclCommSplit(comm_, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, slot.get(), nullptr);
  if (result == ncclSuccess) result = AsyncError();
  Status settled = Settle(result, "ncclCommSplit", __FILE__, __LINE__, deadline, stop);
  // The handle is written just before this communicator settles; wait for it, should a
  // version of NCCL publish the two the other way round.
  Backoff backoff;
  while (settled.ok() && color >= 0 && child_of() == nullptr) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
      settled = AbortedError("ncclCommSplit was abandoned: the communicator is aborting");
    } else if (std::chrono::steady_clock::now() >= deadline) {
      settled = DeadlineExceededError("ncclCommSplit settled but gave no communicator for color " +
                                      std::to_string(color) + " by the deadline");
    } else {
      backoff.Pause();
    }
  }
  if (!settled.ok()) {
    // NCCL may still write into the slot: it is kept, and the child aborted, with this one.
    abandoned_splits_.push_back(std::move(slot));
    return settled;
  }
  NcclComm child(child_of());
  if (!child) return child;  // a negative color: NCCL_SPLIT_NOCOLOR, no child
  TRAIN_RETURN_IF_ERROR(
      child.Settle(child.AsyncError(), "ncclCommSplit", __FILE__, __LINE__, deadline, stop));
  return child;
}

bool NcclComm::Close(Deadline deadline, const std::atomic<bool>* stop) {
  if (comm_ == nullptr) return false;
  const Status flushed =
      Settle(ncclCommFinalize(comm_), "ncclCommFinalize", __FILE__, __LINE__, deadline, stop);
  if (!flushed.ok()) {
    LogWarning("aborting the NCCL communicator instead of closing it: " + flushed.ToString());
    Abort();
    return false;
  }
  const ncclResult_t result = ncclCommDestroy(std::exchange(comm_, nullptr));
  if (result != ncclSuccess) {
    LogWarning(NcclError(result, "ncclCommDestroy", __FILE__, __LINE__, nullptr).ToString());
  }
  AbortAbandonedSplits();
  return true;
}

void NcclComm::Abort() {
  if (comm_ == nullptr) return;
  const ncclResult_t result = ncclCommAbort(std::exchange(comm_, nullptr));
  if (result != ncclSuccess) {
    LogWarning(NcclError(result, "ncclCommAbort", __FILE__, __LINE__, nullptr).ToString());
  }
  AbortAbandonedSplits();
}

void NcclComm::AbortAbandonedSplits() {
  for (const std::unique_ptr<ncclComm_t>& slot : abandoned_splits_) {
    const ncclComm_t child = std::atomic_ref<ncclComm_t>(*slot).load(std::memory_order_acquire);
    if (child == nullptr) continue;
    const ncclResult_t result = ncclCommAbort(child);
    if (result != ncclSuccess) {
      LogWarning(NcclError(result, "ncclCommAbort", __FILE__, __LINE__, nullptr).ToString());
    }
  }
  abandoned_splits_.clear();
}

}  // namespace train::internal
