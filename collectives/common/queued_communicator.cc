#include "common/queued_communicator.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <utility>
#include <vector>

#include "common/op_executor.h"
#include "common/op_ledger.h"
#include "common/work_state.h"
#include "train/internal/counters.h"

namespace train::internal {
namespace {

std::string Label(const CommunicatorOptions& options, int rank) {
  return "communicator \"" + options.name + "\" (rank " + std::to_string(rank) + ")";
}

// Ops up to this size may run on the thread that waits for them (see OpExecutor).
constexpr std::uint64_t kInlineBytes = 64 << 10;

}  // namespace

QueuedCommunicator::QueuedCommunicator(Store* store, int rank, int world_size,
                                       CommunicatorOptions options)
    : store_(store),
      rank_(rank),
      world_size_(world_size),
      options_(std::move(options)),
      ledger_(std::make_unique<OpLedger>(store, options_.name, rank, world_size)),
      executor_(std::make_unique<OpExecutor>(ledger_.get(), Label(options_, rank))) {}

QueuedCommunicator::~QueuedCommunicator() { StopProgress(); }

void QueuedCommunicator::StartProgress() { executor_->Start(); }

void QueuedCommunicator::StopProgress() { executor_->Stop("the communicator was destroyed"); }

const std::atomic<bool>& QueuedCommunicator::aborted() const { return executor_->aborted(); }

void QueuedCommunicator::AbortAll(const std::string& reason) { executor_->Abort(reason); }

std::shared_ptr<Work> QueuedCommunicator::Submit(OpRecord op, Milliseconds timeout,
                                                 std::function<Status(OpContext&)> body) {
  if (timeout.count() <= 0) timeout = options_.timeout;
  std::lock_guard lock(issue_mu_);
  op.seq = next_seq_++;
  const bool small = op.count * DTypeSize(op.dtype) <= kInlineBytes;
  return executor_->Submit(
      op, timeout, std::move(body), [this] { AbortAll("Work::Abort was called"); }, small);
}

std::shared_ptr<Work> QueuedCommunicator::AllReduce(TensorView in, TensorView out, ReduceOp op,
                                                    OpOptions options) {
  OpRecord record{CollectiveKind::kAllReduce, op, in.dtype, in.numel};
  Status status = CheckTensor("allreduce", "in", in, options_.device);
  if (status.ok()) status = CheckTensor("allreduce", "out", out, options_.device);
  if (status.ok()) status = CheckSameShape("allreduce", in, out);
  if (!status.ok()) return WorkState::Failed(record.Describe(), status);
  return Submit(record, options.timeout, [this, in, out, op](OpContext& ctx) {
    const auto started = std::chrono::steady_clock::now();
    Status done = RunAllReduce(in, out, op, ctx);
    // Counted for the agent's metrics (train/metrics.h): bytes in, seconds spent.
    if (done.ok()) {
      CountAllReduce(
          static_cast<std::int64_t>(in.numel * DTypeSize(in.dtype)),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    return done;
  });
}

std::shared_ptr<Work> QueuedCommunicator::ReduceScatter(TensorView in, TensorView out, ReduceOp op,
                                                        OpOptions options) {
  OpRecord record{CollectiveKind::kReduceScatter, op, out.dtype, out.numel};
  Status status = CheckTensor("reducescatter", "in", in, options_.device);
  if (status.ok()) status = CheckTensor("reducescatter", "out", out, options_.device);
  if (status.ok()) status = CheckBlocks("reducescatter", "in", in, "out", out, world_size_);
  if (!status.ok()) return WorkState::Failed(record.Describe(), status);
  return Submit(record, options.timeout,
                [this, in, out, op](OpContext& ctx) { return RunReduceScatter(in, out, op, ctx); });
}

std::shared_ptr<Work> QueuedCommunicator::AllGather(TensorView in, TensorView out,
                                                    OpOptions options) {
  OpRecord record{CollectiveKind::kAllGather, ReduceOp::kSum, in.dtype, in.numel};
  Status status = CheckTensor("allgather", "in", in, options_.device);
  if (status.ok()) status = CheckTensor("allgather", "out", out, options_.device);
  if (status.ok()) status = CheckBlocks("allgather", "out", out, "in", in, world_size_);
  if (!status.ok()) return WorkState::Failed(record.Describe(), status);
  return Submit(record, options.timeout,
                [this, in, out](OpContext& ctx) { return RunAllGather(in, out, ctx); });
}

std::shared_ptr<Work> QueuedCommunicator::Broadcast(TensorView inout, int root, OpOptions options) {
  OpRecord record{CollectiveKind::kBroadcast, ReduceOp::kSum, inout.dtype, inout.numel, root};
  Status status = CheckTensor("broadcast", "inout", inout, options_.device);
  if (status.ok()) status = CheckRoot("broadcast", root, world_size_);
  if (!status.ok()) return WorkState::Failed(record.Describe(), status);
  return Submit(record, options.timeout,
                [this, inout, root](OpContext& ctx) { return RunBroadcast(inout, root, ctx); });
}

std::shared_ptr<Work> QueuedCommunicator::Barrier(OpOptions options) {
  OpRecord record{CollectiveKind::kBarrier};
  return Submit(record, options.timeout, [this](OpContext& ctx) { return RunBarrier(ctx); });
}

Result<std::unique_ptr<Communicator>> QueuedCommunicator::Split(int color, int key) {
  if (store_ == nullptr) {
    return FailedPreconditionError("Split needs the job's store; " + options_.name + " has none");
  }
  const std::string prefix = options_.name + "/split" + std::to_string(++splits_) + "/";
  TRAIN_RETURN_IF_ERROR(store_->Set(prefix + std::to_string(rank_),
                                    std::to_string(color) + " " + std::to_string(key)));
  std::vector<std::string> keys;
  for (int r = 0; r < world_size_; ++r) keys.push_back(prefix + std::to_string(r));
  TRAIN_RETURN_IF_ERROR(
      store_->Wait(keys, options_.timeout).WithContext("Split: waiting for every rank's color"));
  TRAIN_ASSIGN_OR_RETURN(auto values, store_->MultiGet(keys));
  struct Member {
    int key;
    int rank;
  };
  std::vector<Member> members;
  for (int r = 0; r < world_size_; ++r) {
    std::istringstream in(values[r].value_or(""));
    int their_color = 0;
    int their_key = 0;
    if (!(in >> their_color >> their_key)) {
      return InternalError("Split: rank " + std::to_string(r) + " published no color");
    }
    if (their_color == color && color >= 0) members.push_back({their_key, r});
  }
  if (color < 0) return std::unique_ptr<Communicator>();
  std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    return a.key != b.key ? a.key < b.key : a.rank < b.rank;
  });
  int child_rank = 0;
  while (members[child_rank].rank != rank_) ++child_rank;
  CommunicatorOptions child = options_;
  child.name = prefix + "color" + std::to_string(color);
  return MakeChild(child_rank, static_cast<int>(members.size()), std::move(child));
}

}  // namespace train::internal
