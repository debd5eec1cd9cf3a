// Runs a communicator's op bodies one at a time, in issue order. Large ops run on a progress
// thread, so that issuing returns at once and the caller overlaps them with its own work.
// A small op issued while the communicator is idle is left for the thread that waits for it
// (no thread hand-off: a 4 KiB all-reduce costs microseconds, not a context switch); should
// nobody wait for it for a whole monitor tick, the progress thread takes it (within two ticks). A
// monitor publishes an op to the ledger once it has blocked for a moment. The first failure breaks
// the executor: later ops fail at once with it.
#ifndef TRAIN_COLLECTIVES_COMMON_OP_EXECUTOR_H_
#define TRAIN_COLLECTIVES_COMMON_OP_EXECUTOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/op_context.h"
#include "common/op_ledger.h"

namespace train::internal {

class OpExecutor {
 public:
  using Body = std::function<Status(OpContext&)>;

  // `label` names the communicator in errors ("communicator world, rank 3").
  OpExecutor(OpLedger* ledger, std::string label);
  ~OpExecutor();

  void Start();
  // Fails pending ops with ABORTED, flags the running one, waits for it, joins the threads.
  // Idempotent.
  void Stop(const std::string& reason);
  // Flags the running op and fails every pending and later op with ABORTED.
  void Abort(const std::string& reason);

  // Queues `body`; `on_abort` is what the Work's Abort() calls. `small` ops may run on the
  // thread that waits for them.
  std::shared_ptr<Work> Submit(OpRecord op, Milliseconds timeout, Body body,
                               std::function<void()> on_abort, bool small);

  const std::atomic<bool>& aborted() const;

  // How long an op runs before it is published to the ledger.
  static constexpr Milliseconds kPublishAfter{100};
  // How often the monitor looks: publishing, and handing waiting small ops to the thread.
  static constexpr Milliseconds kMonitorTick{5};

 private:
  struct Core;  // shared with the Works it made (weakly), which may outlive the executor

  std::shared_ptr<Core> core_;
  std::thread runner_;
  std::thread monitor_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_OP_EXECUTOR_H_
