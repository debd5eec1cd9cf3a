#include "common/op_executor.h"

#include <chrono>
#include <utility>

namespace train::internal {

OpExecutor::OpExecutor(OpLedger* ledger, std::string label)
    : ledger_(ledger), label_(std::move(label)) {}

OpExecutor::~OpExecutor() { Stop("the communicator was destroyed"); }

void OpExecutor::Start() {
  runner_ = std::thread([this] { RunLoop(); });
  monitor_ = std::thread([this] { MonitorLoop(); });
}

void OpExecutor::Stop(const std::string& reason) {
  Abort(reason);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  monitor_cv_.notify_all();
  if (runner_.joinable()) runner_.join();
  if (monitor_.joinable()) monitor_.join();
}

void OpExecutor::Abort(const std::string& reason) {
  std::deque<Task> pending;
  {
    std::lock_guard lock(mu_);
    aborted_.store(true);
    if (!broken_) broken_ = AbortedError(label_ + " was aborted: " + reason);
    pending.swap(queue_);
  }
  for (Task& task : pending) Refuse(task);
}

std::shared_ptr<Work> OpExecutor::Submit(OpRecord op, Milliseconds timeout, Body body,
                                         std::function<void()> on_abort) {
  auto work = std::make_shared<WorkState>(op.Describe(), std::move(on_abort));
  Task task{op, timeout, std::move(body), work};
  {
    std::lock_guard lock(mu_);
    if (!broken_ && !stopping_) {
      queue_.push_back(std::move(task));
      queue_cv_.notify_one();
      return work;
    }
  }
  Refuse(task);
  return work;
}

void OpExecutor::Refuse(Task& task) {
  Status first;
  {
    std::lock_guard lock(mu_);
    first = broken_.value_or(AbortedError(label_ + " is stopping"));
  }
  task.work->Complete(Status(first.code(), task.op.Describe() + " not run: " + label_ +
                                               " failed earlier: " + first.message()));
}

void OpExecutor::RunLoop() {
  while (true) {
    Task task;
    {
      std::unique_lock lock(mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      if (broken_) {
        lock.unlock();
        Refuse(task);
        continue;
      }
      running_ = task.op;
      running_since_ = std::chrono::steady_clock::now();
      running_published_ = false;
    }
    monitor_cv_.notify_all();

    OpContext ctx;
    ctx.op = task.op;
    ctx.started = running_since_;
    ctx.deadline = ctx.started + task.timeout;
    ctx.aborted = &aborted_;
    const Milliseconds timeout = task.timeout;
    ctx.timeout_error = [this, op = task.op, timeout](const std::vector<int>& ranks) {
      return ledger_->TimeoutError(op, timeout, ranks);
    };
    Status status = task.body(ctx);
    {
      std::lock_guard lock(mu_);
      running_.reset();
      if (!status.ok() && !broken_) broken_ = status;
    }
    monitor_cv_.notify_all();
    task.work->Complete(std::move(status));
  }
}

void OpExecutor::MonitorLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (!running_ || running_published_) {
      monitor_cv_.wait(lock);
      continue;
    }
    const Deadline due = running_since_ + kPublishAfter;
    if (std::chrono::steady_clock::now() < due) {
      monitor_cv_.wait_until(lock, due);
      continue;
    }
    const OpRecord op = *running_;
    running_published_ = true;
    lock.unlock();
    ledger_->Publish(op);
    lock.lock();
  }
}

}  // namespace train::internal
