#include "common/op_executor.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "common/work_state.h"

namespace train::internal {

struct OpExecutor::Core {
  struct Task {
    OpRecord op;
    Milliseconds timeout;
    Body body;
    std::shared_ptr<WorkState> work;
    std::uint64_t queued_tick = 0;  // the monitor's tick count when it was queued
  };

  Core(OpLedger* ledger_in, std::string label_in) : ledger(ledger_in), label(std::move(label_in)) {}

  // Lets the progress thread take queued ops (call with mu held).
  void KickLocked() {
    if (!queue.empty() && !kicked) {
      kicked = true;
      queue_cv.notify_one();
    }
  }

  // The error that broke the executor, for an op that will not run.
  void Refuse(Task& task) {
    Status first;
    {
      std::lock_guard lock(mu);
      first = broken.value_or(AbortedError(label + " is stopping"));
    }
    task.work->Complete(Status(first.code(), task.op.Describe() + " not run: " + label +
                                                 " failed earlier: " + first.message()));
  }

  // Runs the task claimed by this thread (running is set), then releases the claim.
  void Execute(Task& task) {
    OpContext ctx;
    ctx.op = task.op;
    ctx.started = running_since;
    ctx.deadline = ctx.started + task.timeout;
    ctx.aborted = &aborted;
    OpLedger* const ledger_for_errors = ledger;
    const Milliseconds timeout = task.timeout;
    ctx.timeout_error = [ledger_for_errors, op = task.op, timeout](const std::vector<int>& ranks) {
      return ledger_for_errors->TimeoutError(op, timeout, ranks);
    };
    Status status = task.body(ctx);
    {
      std::lock_guard lock(mu);
      running.reset();
      if (!status.ok() && !broken) broken = status;
      if (queue.empty()) kicked = false;
      if (!queue.empty() && !kicked) {
        KickLocked();
      } else if (kicked) {
        // The progress thread waits for the running op to end. Not woken otherwise: on a busy
        // CPU a needless wake-up after every inline op costs a context switch.
        queue_cv.notify_one();
      }
      idle_cv.notify_all();
    }
    task.work->Complete(std::move(status));
  }

  // Claims the front task (with mu held by `lock`), or refuses it when broken. Returns whether
  // the caller must Execute `out`.
  bool ClaimFront(std::unique_lock<std::mutex>& lock, Task* out) {
    *out = std::move(queue.front());
    queue.pop_front();
    if (broken) {
      lock.unlock();
      Refuse(*out);
      lock.lock();
      return false;
    }
    running = out->op;
    running_since = std::chrono::steady_clock::now();
    running_published = false;
    return true;
  }

  // What a waiter does first: runs `work`'s op itself when it is next and nothing runs.
  void RunInline(const WorkState* work) {
    std::unique_lock lock(mu);
    if (stopping || running || queue.empty() || queue.front().work.get() != work) {
      KickLocked();
      return;
    }
    Task task;
    if (!ClaimFront(lock, &task)) return;
    lock.unlock();
    Execute(task);
  }

  OpLedger* const ledger;
  const std::string label;
  std::atomic<bool> aborted{false};

  std::mutex mu;
  std::condition_variable queue_cv;  // the progress thread may take a task, or stop
  std::condition_variable idle_cv;   // an op ended
  std::condition_variable stop_cv;   // stopping (wakes the monitor)
  std::deque<Task> queue;
  bool kicked = false;      // the progress thread takes queued tasks (else waiters do)
  std::uint64_t ticks = 0;  // the monitor's wake-ups so far
  bool stopping = false;
  std::optional<Status> broken;  // the first failure
  // The running op, for the monitor.
  std::optional<OpRecord> running;
  Deadline running_since{};
  bool running_published = false;
};

OpExecutor::OpExecutor(OpLedger* ledger, std::string label)
    : core_(std::make_shared<Core>(ledger, std::move(label))) {}

OpExecutor::~OpExecutor() { Stop("the communicator was destroyed"); }

const std::atomic<bool>& OpExecutor::aborted() const { return core_->aborted; }

void OpExecutor::Start() {
  Core* core = core_.get();
  runner_ = std::thread([core] {
    std::unique_lock lock(core->mu);
    while (true) {
      core->queue_cv.wait(lock, [&] {
        return core->stopping || (core->kicked && !core->queue.empty() && !core->running);
      });
      if (core->stopping) return;
      Core::Task task;
      if (!core->ClaimFront(lock, &task)) continue;
      lock.unlock();
      core->Execute(task);
      lock.lock();
    }
  });
  monitor_ = std::thread([core] {
    std::unique_lock lock(core->mu);
    while (!core->stopping) {
      core->stop_cv.wait_for(lock, kMonitorTick);
      if (core->stopping) return;
      // A small op nobody waited for during a whole tick goes to the progress thread. One
      // queued just before this tick is left alone: its waiter may simply not have been
      // scheduled yet (a busy machine), and taking it would cost the hand-off it avoids.
      ++core->ticks;
      if (!core->queue.empty() && core->queue.front().queued_tick + 1 < core->ticks) {
        core->KickLocked();
      }
      if (core->running && !core->running_published &&
          std::chrono::steady_clock::now() >= core->running_since + kPublishAfter) {
        const OpRecord op = *core->running;
        core->running_published = true;
        lock.unlock();
        core->ledger->Publish(op);
        lock.lock();
      }
    }
  });
}

void OpExecutor::Stop(const std::string& reason) {
  Abort(reason);
  {
    std::unique_lock lock(core_->mu);
    core_->stopping = true;
    core_->queue_cv.notify_all();
    core_->stop_cv.notify_all();
    // An op a waiter runs inline sees `aborted` and ends soon.
    core_->idle_cv.wait(lock, [&] { return !core_->running; });
  }
  if (runner_.joinable()) runner_.join();
  if (monitor_.joinable()) monitor_.join();
}

void OpExecutor::Abort(const std::string& reason) {
  std::deque<Core::Task> pending;
  {
    std::lock_guard lock(core_->mu);
    core_->aborted.store(true);
    if (!core_->broken) core_->broken = AbortedError(core_->label + " was aborted: " + reason);
    pending.swap(core_->queue);
  }
  for (Core::Task& task : pending) core_->Refuse(task);
}

std::shared_ptr<Work> OpExecutor::Submit(OpRecord op, Milliseconds timeout, Body body,
                                         std::function<void()> on_abort, bool small) {
  auto work = std::make_shared<WorkState>(op, std::move(on_abort));
  std::weak_ptr<Core> weak = core_;
  const WorkState* id = work.get();
  work->SetWaitHooks(
      [weak, id] {
        if (auto core = weak.lock()) core->RunInline(id);
      },
      [weak] {
        if (auto core = weak.lock()) {
          std::lock_guard lock(core->mu);
          core->KickLocked();
        }
      });
  Core::Task task{op, timeout, std::move(body), work};
  {
    std::lock_guard lock(core_->mu);
    task.queued_tick = core_->ticks;
    if (!core_->broken && !core_->stopping) {
      const bool left_for_waiter =
          small && core_->queue.empty() && !core_->running && !core_->kicked;
      core_->queue.push_back(std::move(task));
      if (!left_for_waiter) core_->KickLocked();
      return work;
    }
  }
  core_->Refuse(task);
  return work;
}

}  // namespace train::internal
