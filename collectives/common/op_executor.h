// Runs a communicator's op bodies one at a time, in issue order, on a progress thread; a
// monitor thread publishes an op to the ledger once it has blocked for a moment. The first
// failure breaks the executor: later ops fail at once with it.
#ifndef TRAIN_COLLECTIVES_COMMON_OP_EXECUTOR_H_
#define TRAIN_COLLECTIVES_COMMON_OP_EXECUTOR_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/op_context.h"
#include "common/op_ledger.h"
#include "common/work_state.h"

namespace train::internal {

class OpExecutor {
 public:
  using Body = std::function<Status(OpContext&)>;

  // `label` names the communicator in errors ("communicator world, rank 3").
  OpExecutor(OpLedger* ledger, std::string label);
  ~OpExecutor();

  void Start();
  // Fails pending ops with ABORTED, flags the running one, joins the threads. Idempotent.
  void Stop(const std::string& reason);
  // Flags the running op and fails every pending and later op with ABORTED.
  void Abort(const std::string& reason);

  // Queues `body`; `on_abort` is what the Work's Abort() calls.
  std::shared_ptr<Work> Submit(OpRecord op, Milliseconds timeout, Body body,
                               std::function<void()> on_abort);

  const std::atomic<bool>& aborted() const { return aborted_; }

  // How long an op runs before it is published to the ledger.
  static constexpr Milliseconds kPublishAfter{100};

 private:
  struct Task {
    OpRecord op;
    Milliseconds timeout;
    Body body;
    std::shared_ptr<WorkState> work;
  };

  void RunLoop();
  void MonitorLoop();
  // Fails `task` without running it, with the error that broke the executor.
  void Refuse(Task& task);

  OpLedger* const ledger_;
  const std::string label_;
  std::atomic<bool> aborted_{false};

  std::mutex mu_;
  std::condition_variable queue_cv_;    // tasks arrived, or stopping
  std::condition_variable monitor_cv_;  // an op started or ended, or stopping
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::optional<Status> broken_;  // the first failure
  // The running op, for the monitor.
  std::optional<OpRecord> running_;
  Deadline running_since_{};
  bool running_published_ = false;

  std::thread runner_;
  std::thread monitor_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_OP_EXECUTOR_H_
