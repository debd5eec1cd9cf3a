// What a backend's op body gets: the op, its deadline, the abort flag, and how to word a
// timeout or a dead peer so that the error names the culprit.
#ifndef TRAIN_COLLECTIVES_COMMON_OP_CONTEXT_H_
#define TRAIN_COLLECTIVES_COMMON_OP_CONTEXT_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/op.h"

namespace train::internal {

struct OpContext {
  OpRecord op;
  Deadline started;
  Deadline deadline;
  // Set by Abort (this rank's) or when the communicator is destroyed: stop at once.
  const std::atomic<bool>* aborted = nullptr;
  // Builds the DEADLINE_EXCEEDED error for this op while it still waited for `ranks`
  // (communicator ranks): names them, with what each last published to the store.
  std::function<Status(const std::vector<int>& ranks)> timeout_error;

  bool Aborted() const { return aborted != nullptr && aborted->load(std::memory_order_relaxed); }
  bool Expired() const { return std::chrono::steady_clock::now() >= deadline; }
  // The status to return when the loop noticed Aborted() or Expired().
  Status StopStatus(const std::vector<int>& waiting_for) const {
    if (Aborted()) return AbortedError(op.Describe() + " was aborted");
    return timeout_error ? timeout_error(waiting_for)
                         : DeadlineExceededError(op.Describe() + " timed out");
  }
  // UNAVAILABLE for a peer that is gone: "allreduce #3 (...): rank 2 (pid 812) exited".
  // Records the first such peer (lost_rank, lost_detail), so that a communicator made of
  // several groups can tell the members of its other groups who is to blame.
  Status PeerLost(int rank, const std::string& detail) const {
    if (lost_rank < 0) {
      lost_rank = rank;
      lost_detail = detail;
    }
    return UnavailableError(op.Describe() + ": rank " + std::to_string(rank) + " " + detail);
  }

  mutable int lost_rank = -1;  // communicator rank
  mutable std::string lost_detail;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_OP_CONTEXT_H_
