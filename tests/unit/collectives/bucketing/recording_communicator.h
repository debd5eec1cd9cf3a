// A communicator of one rank that records the all-reduces it is given and completes them only
// when the test releases them, so that tests see what was issued before Finish.
#ifndef TRAIN_TESTS_UNIT_COLLECTIVES_BUCKETING_RECORDING_COMMUNICATOR_H_
#define TRAIN_TESTS_UNIT_COLLECTIVES_BUCKETING_RECORDING_COMMUNICATOR_H_

#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "train/communicator.h"

namespace train::testing {

class RecordedWork : public Work {
 public:
  RecordedWork(TensorView in, TensorView out, double scale) : in_(in), out_(out), scale_(scale) {}
  Status Wait(Deadline deadline) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++waits_;
    if (!cv_.wait_until(lock, deadline, [&] { return done_; })) {
      return DeadlineExceededError("recorded all-reduce still held");
    }
    return status_;
  }
  bool Done() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  void Abort() override { Complete(AbortedError("aborted")); }
  std::string Describe() const override { return "recorded allreduce"; }
  // How many times Wait was entered. Seeing it from another thread also orders whatever the
  // waiting thread did before (both take mu_), so a test may then read what it wrote.
  int waits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waits_;
  }

  // As if every rank had given the same input: float sums are scaled by the world size, any
  // other result is the input.
  void Complete(Status status = Status::Ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    if (status.ok()) {
      if (in_.data != out_.data) std::memcpy(out_.data, in_.data, in_.bytes());
      Scale<float>(DType::kFloat32);
      Scale<double>(DType::kFloat64);
    }
    status_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }

 private:
  template <typename T>
  void Scale(DType dtype) {
    if (out_.dtype != dtype) return;
    T* data = static_cast<T*>(out_.data);
    for (std::uint64_t i = 0; i < out_.numel; ++i) data[i] = static_cast<T>(data[i] * scale_);
  }

  TensorView in_, out_;
  double scale_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  int waits_ = 0;
  Status status_;
};

class RecordingCommunicator : public Communicator {
 public:
  struct Call {
    TensorView in;
    ReduceOp op;
    Milliseconds timeout;
    std::shared_ptr<RecordedWork> work;
  };

  // With `hold`, all-reduces complete on Release; otherwise at once. Sums come out as if
  // `simulated_ranks` ranks had given the same input.
  explicit RecordingCommunicator(bool hold, int simulated_ranks = 1)
      : hold_(hold), simulated_ranks_(simulated_ranks) {}

  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  CommBackend backend() const override { return CommBackend::kCpu; }
  const CommunicatorOptions& options() const override { return options_; }
  CommunicatorOptions& mutable_options() { return options_; }

  std::shared_ptr<Work> AllReduce(TensorView in, TensorView out, ReduceOp op,
                                  OpOptions options = {}) override {
    auto work =
        std::make_shared<RecordedWork>(in, out, op == ReduceOp::kSum ? simulated_ranks_ : 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back({in, op, options.timeout, work});
    }
    if (!hold_) work->Complete();
    return work;
  }
  using Communicator::AllReduce;
  std::shared_ptr<Work> ReduceScatter(TensorView, TensorView, ReduceOp, OpOptions) override {
    return Unsupported();
  }
  std::shared_ptr<Work> AllGather(TensorView, TensorView, OpOptions) override {
    return Unsupported();
  }
  std::shared_ptr<Work> Broadcast(TensorView, int, OpOptions) override { return Unsupported(); }
  std::shared_ptr<Work> Barrier(OpOptions) override { return Unsupported(); }
  Result<std::unique_ptr<Communicator>> Split(int, int) override { return UnimplementedInTest(); }

  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // Completes every all-reduce issued so far (the first `fail_first` with an error).
  void Release(int fail_first = 0) {
    for (Call& call : calls()) {
      call.work->Complete(fail_first-- > 0 ? UnavailableError("rank 1 exited") : Status::Ok());
    }
  }

 private:
  static std::shared_ptr<Work> Unsupported() {
    auto work = std::make_shared<RecordedWork>(TensorView{}, TensorView{}, 1);
    work->Complete(InternalError("not used by these tests"));
    return work;
  }
  static Status UnimplementedInTest() { return InternalError("not used by these tests"); }

  const bool hold_;
  const int simulated_ranks_;
  CommunicatorOptions options_;
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_COLLECTIVES_BUCKETING_RECORDING_COMMUNICATOR_H_
