#include "common/work_state.h"

#include <utility>

namespace train::internal {

WorkState::WorkState(std::string description, std::function<void()> abort)
    : description_(std::move(description)), abort_(std::move(abort)) {}

WorkState::WorkState(const OpRecord& op, std::function<void()> abort)
    : op_(op), abort_(std::move(abort)) {}

std::shared_ptr<WorkState> WorkState::Failed(std::string description, Status status) {
  auto work = std::make_shared<WorkState>(std::move(description), nullptr);
  work->Complete(std::move(status));
  return work;
}

void WorkState::SetWaitHooks(std::function<void()> before_wait, std::function<void()> on_poll) {
  before_wait_ = std::move(before_wait);
  on_poll_ = std::move(on_poll);
}

Status WorkState::Wait(Deadline deadline) {
  // Only an unbounded wait may run the op here: the caller's deadline could not interrupt it.
  std::unique_lock lock(mu_);
  // Not Done(): its poll hook hands the op to the progress thread, which this wait would then
  // have to be woken by.
  if (deadline == Deadline::max() && before_wait_ && !done_) {
    lock.unlock();
    before_wait_();
    lock.lock();
  }
  if (deadline == Deadline::max()) {
    done_cv_.wait(lock, [&] { return done_; });
  } else if (!done_cv_.wait_until(lock, deadline, [&] { return done_; })) {
    return DeadlineExceededError(Describe() +
                                 " has not completed by the deadline given to Wait; it goes on");
  }
  return status_;
}

bool WorkState::Done() const {
  {
    std::lock_guard lock(mu_);
    if (done_) return true;
  }
  if (on_poll_) on_poll_();
  std::lock_guard lock(mu_);
  return done_;
}

void WorkState::Abort() {
  if (abort_) abort_();
}

void WorkState::Complete(Status status) {
  {
    std::lock_guard lock(mu_);
    if (done_) return;
    done_ = true;
    status_ = std::move(status);
  }
  done_cv_.notify_all();
}

}  // namespace train::internal
