#include "nccl/nccl_queue.h"

#include <utility>
#include <vector>

#include "common/op_executor.h"
#include "nccl/nccl_status.h"

namespace train::internal {
namespace {

Status WithSuffix(const Status& status, const std::string& suffix) {
  return Status(status.code(), status.message() + suffix);
}

}  // namespace

Result<std::shared_ptr<NcclQueue>> NcclQueue::Create(NcclComm comm, Config config) {
  ScopedCudaDevice device(config.device);
  TRAIN_RETURN_IF_ERROR(device.status());
  TRAIN_ASSIGN_OR_RETURN(CudaStream stream, CudaStream::Create());
  std::shared_ptr<NcclQueue> queue(
      new NcclQueue(std::move(comm), std::move(stream), std::move(config)));
  queue->watchdog_ = std::thread([raw = queue.get()] { raw->WatchdogLoop(); });
  return queue;
}

NcclQueue::NcclQueue(NcclComm comm, CudaStream stream, Config config)
    : config_(std::move(config)),
      ledger_(config_.store, config_.name, config_.rank, config_.world_size),
      comm_(std::move(comm)),
      stream_(std::move(stream)) {}

NcclQueue::~NcclQueue() {
  bool closed_cleanly = false;
  {
    std::lock_guard comm_lock(comm_mu_);
    if (comm_) {
      closed_cleanly = comm_.Close(std::chrono::steady_clock::now() + config_.timeout, &aborting_);
    }
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  // What is left finished during the close, or was cut short by an abort.
  for (PendingOp& op : pending_) {
    if (closed_cleanly && cudaEventQuery(op.done.get()) == cudaSuccess) {
      op.work->Complete(Status::Ok());
    } else {
      op.work->Complete(AbortedError(op.op.Describe() + " did not complete: " + Label() +
                                     " was destroyed first"));
    }
  }
}

std::string NcclQueue::Label() const {
  return "the NCCL communicator \"" + config_.name + "\" (rank " + std::to_string(config_.rank) +
         " of " + std::to_string(config_.world_size) + ", CUDA device " +
         std::to_string(config_.device) + ")";
}

std::shared_ptr<Work> NcclQueue::Enqueue(OpRecord op, Milliseconds timeout, const char* call,
                                         const Launch& launch, const Finish& finish) {
  if (timeout.count() <= 0) timeout = config_.timeout;
  std::weak_ptr<NcclQueue> self = weak_from_this();
  std::lock_guard comm_lock(comm_mu_);
  op.seq = next_seq_++;
  auto work = std::make_shared<WorkState>(op.Describe(), [self] {
    if (auto queue = self.lock()) queue->Abort("Work::Abort was called");
  });
  {
    std::lock_guard lock(mu_);
    if (failure_) {
      work->Complete(
          Status(failure_->status.code(), op.Describe() + " not run: " + Label() +
                                              " failed earlier: " + failure_->status.message()));
      return work;
    }
  }

  const Deadline started = std::chrono::steady_clock::now();
  const Deadline deadline = started + timeout;
  ScopedCudaDevice device(config_.device);
  Status status = device.status();
  Result<CudaEvent> event = CudaEvent::Create();
  if (status.ok()) status = event.status();
  if (status.ok() && launch) {
    status = comm_.Settle(launch(comm_.get(), stream_.get()), call, __FILE__, __LINE__, deadline,
                          &aborting_);
  }
  if (status.ok() && launch && finish) {
    const cudaError_t err = finish(stream_.get());
    if (err != cudaSuccess) status = cuda::CudaError(err, "finish kernel", __FILE__, __LINE__);
  }
  if (status.ok()) {
    const cudaError_t err = cudaEventRecord(event->get(), stream_.get());
    if (err != cudaSuccess) status = cuda::CudaError(err, "cudaEventRecord", __FILE__, __LINE__);
  }
  if (!status.ok()) {
    FailLocked(Status(status.code(), op.Describe() + ": " + status.message() + "; " + Label() +
                                         " was aborted and cannot be used again"),
               op.seq);
  }

  std::lock_guard lock(mu_);
  if (failure_) {
    work->Complete(FailureFor(op, *failure_));
    return work;
  }
  pending_.push_back(PendingOp{op, started, deadline, std::move(event).value(), work});
  wake_.notify_all();
  return work;
}

Result<NcclComm> NcclQueue::Split(int color, int key) {
  std::lock_guard comm_lock(comm_mu_);
  {
    std::lock_guard lock(mu_);
    if (failure_) {
      return Status(failure_->status.code(),
                    "Split not run: " + Label() + " failed earlier: " + failure_->status.message());
    }
  }
  Result<NcclComm> child =
      comm_.Split(color, key, std::chrono::steady_clock::now() + config_.timeout, &aborting_);
  if (!child.ok()) {
    FailLocked(Status(child.status().code(), "Split: " + child.status().message() + "; " + Label() +
                                                 " was aborted and cannot be used again"),
               0);
    std::lock_guard lock(mu_);
    return failure_->status;
  }
  return child;
}

void NcclQueue::Abort(const std::string& reason) {
  Fail(AbortedError(Label() + " was aborted: " + reason), 0);
}

Status NcclQueue::FailureFor(const OpRecord& op, const Failure& failure) const {
  if (failure.seq != 0 && failure.seq == op.seq) return failure.status;
  return Status(failure.status.code(),
                op.Describe() + " did not complete: " + failure.status.message());
}

void NcclQueue::Fail(Status status, std::uint64_t seq) {
  {
    // Recorded before taking comm_mu_: a call settling under it sees aborting_ and lets go.
    std::lock_guard lock(mu_);
    if (failure_) return;
    failure_ = Failure{std::move(status), seq};
    aborting_.store(true);
  }
  std::lock_guard comm_lock(comm_mu_);
  FailLocked(Status(), 0);
}

void NcclQueue::FailLocked(Status status, std::uint64_t seq) {
  std::deque<PendingOp> in_flight;
  Failure failure;
  {
    std::lock_guard lock(mu_);
    if (!failure_) {
      failure_ = Failure{std::move(status), seq};
      aborting_.store(true);
    }
    failure = *failure_;
    in_flight.swap(pending_);
  }
  // Kernels waiting for a peer that will not come never finish: stop them.
  comm_.Abort();
  for (PendingOp& op : in_flight) op.work->Complete(FailureFor(op.op, failure));
}

void NcclQueue::WatchdogLoop() {
  ScopedCudaDevice device(config_.device);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (pending_.empty()) {
      wake_.wait(lock);
      continue;
    }
    lock.unlock();
    Poll();
    lock.lock();
    wake_.wait_for(lock, kPollInterval);
  }
}

void NcclQueue::Poll() {
  // An error NCCL met in the background (a peer died, the network failed). Checked when no
  // call holds the communicator; the next round gets it otherwise.
  {
    std::unique_lock comm_lock(comm_mu_, std::try_to_lock);
    if (comm_lock.owns_lock() && comm_) {
      const ncclResult_t state = comm_.AsyncError();
      if (state != ncclSuccess && state != ncclInProgress) {
        const Status error =
            NcclError(state, "ncclCommGetAsyncError", __FILE__, __LINE__, comm_.get());
        std::optional<OpRecord> oldest;
        {
          std::lock_guard lock(mu_);
          if (!pending_.empty()) oldest = pending_.front().op;
        }
        const std::string what =
            Label() + " failed: " + error.message() + "; it was aborted and cannot be used again";
        if (oldest) {
          FailLocked(Status(error.code(), oldest->Describe() + ": " + what), oldest->seq);
        } else {
          FailLocked(Status(error.code(), what), 0);
        }
        return;
      }
    }
  }

  std::vector<PendingOp> completed;
  std::optional<Status> cuda_error;
  std::uint64_t cuda_error_seq = 0;
  std::optional<OpRecord> expired;
  Milliseconds expired_after{0};
  std::optional<OpRecord> to_publish;
  const Deadline now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    // One stream: ops finish in the order they were enqueued.
    while (!pending_.empty()) {
      const cudaError_t query = cudaEventQuery(pending_.front().done.get());
      if (query == cudaErrorNotReady) break;
      if (query != cudaSuccess) {
        const Status error = cuda::CudaError(query, "cudaEventQuery", __FILE__, __LINE__);
        cuda_error = Status(error.code(), pending_.front().op.Describe() + ": " + error.message());
        cuda_error_seq = pending_.front().op.seq;
        break;
      }
      completed.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    for (const PendingOp& op : pending_) {
      if (now >= op.deadline) {
        expired = op.op;
        expired_after = std::chrono::duration_cast<Milliseconds>(op.deadline - op.started);
        break;
      }
    }
    if (!pending_.empty() && !pending_.front().published &&
        now - pending_.front().started >= OpExecutor::kPublishAfter) {
      pending_.front().published = true;
      to_publish = pending_.front().op;
    }
  }
  for (PendingOp& op : completed) op.work->Complete(Status::Ok());

  const std::string aborted = "; " + Label() + " was aborted and cannot be used again";
  if (cuda_error) {
    Fail(WithSuffix(*cuda_error, aborted), cuda_error_seq);
  } else if (expired) {
    // Names the ranks that did not arrive, from what each published to the store.
    Fail(WithSuffix(ledger_.TimeoutError(*expired, expired_after, {}), aborted), expired->seq);
  } else if (to_publish) {
    ledger_.Publish(*to_publish);
  }
}

}  // namespace train::internal
