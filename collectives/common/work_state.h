// The Work an op returns: completed once by the backend, waited on by anyone.
#ifndef TRAIN_COLLECTIVES_COMMON_WORK_STATE_H_
#define TRAIN_COLLECTIVES_COMMON_WORK_STATE_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "common/op.h"
#include "train/communicator.h"

namespace train::internal {

class WorkState : public Work {
 public:
  // `abort` is what Abort() calls (it aborts the whole communicator); may be empty.
  WorkState(std::string description, std::function<void()> abort);
  // Described by `op`, formatted only when asked (issuing a small op must stay cheap).
  WorkState(const OpRecord& op, std::function<void()> abort);
  // A Work that has already failed (an op refused before it was issued).
  static std::shared_ptr<WorkState> Failed(std::string description, Status status);

  Status Wait(Deadline deadline) override;
  bool Done() const override;
  void Abort() override;
  std::string Describe() const override { return op_ ? op_->Describe() : description_; }

  // Records the outcome and wakes the waiters; later calls are ignored.
  void Complete(Status status);

  // `before_wait` runs when an unbounded Wait finds the op not done (the executor may run it
  // right there);
  // `on_poll` when Done finds it not done. Set once, before the Work is handed out.
  void SetWaitHooks(std::function<void()> before_wait, std::function<void()> on_poll);

 private:
  const std::string description_;
  const std::optional<OpRecord> op_;
  std::function<void()> abort_;
  std::function<void()> before_wait_;
  std::function<void()> on_poll_;
  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
  Status status_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_WORK_STATE_H_
