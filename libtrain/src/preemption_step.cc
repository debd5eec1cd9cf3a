// The trainer's side of preemption: every rank agrees at each step's end whether any was asked
// to stop, and then all save that step together and record it for their launcher.
#include <chrono>
#include <string>

#include "preemption.h"
#include "train/communicator.h"
#include "train/log.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace train {

std::string PreemptedStepKey(int rank) { return "preempted/" + std::to_string(rank); }

// One int64 all-reduce (max) per step: a rank that got no signal must stop at the same step as
// the one that did, or the next collective would wait for a rank that left.
Result<bool> Trainer::AgreeOnPreemption() {
  std::int64_t requested = internal::PreemptionPending() ? 1 : 0;
  // Over host memory (a job on NCCL has a host communicator of the same ranks for this).
  Communicator* comm = HostComm();
  if (comm != nullptr && comm->world_size() > 1) {
    TensorView view{&requested, DType::kInt64, 1, Device::kCpu, 0};
    TRAIN_RETURN_IF_ERROR(comm->AllReduce(view, ReduceOp::kMax)
                              ->Wait()
                              .WithContext("agreeing at the end of a step on preemption"));
  }
  return requested != 0;
}

Status Trainer::SaveOnPreemption(std::int64_t step) {
  const int rank = comm_ != nullptr ? comm_->rank() : worker_.rank();
  const std::string at = "step " + std::to_string(step);
  const auto started = std::chrono::steady_clock::now();
  if (checkpointer_ == nullptr) {
    LogWarning("preemption requested at " + at +
               ": no checkpoint directory, so nothing is saved; stopping");
  } else {
    if (rank == 0) LogInfo("preemption requested: saving " + at + " now");
    TRAIN_RETURN_IF_ERROR(Save(step).WithContext("saving " + at + " on preemption"));
    TRAIN_RETURN_IF_ERROR(
        checkpointer_->WaitForSave().WithContext("saving " + at + " on preemption"));
  }
  preempted_step_ = step;
  internal::MarkPreemptionHandled();
  if (Store* store = worker_.store()) {
    const std::string value = std::to_string(step) + (checkpointer_ == nullptr ? " unsaved" : "");
    const Status recorded = store->Set(PreemptedStepKey(worker_.rank()), value);
    if (!recorded.ok()) {
      LogWarning("cannot tell the launcher that " + at +
                 " was saved on preemption: " + recorded.ToString());
    }
  }
  if (rank == 0 && checkpointer_ != nullptr) {
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    LogInfo("preemption: saved " + at + " in " + std::to_string(took.count()) +
            " ms; stopping (exit status " + std::to_string(kExitPreempted) + ")");
  }
  return Status::Ok();
}

void Trainer::WarnPreemptionUnheeded(std::int64_t step) {
  if (!internal::SigtermEndsUnheededProgram()) return;
  LogWarning("step " + std::to_string(step) + " ended after step " +
             std::to_string(preempted_step_) +
             " was saved on preemption: SIGTERM ends the program now (it should return "
             "train::kExitPreempted once PreemptionRequested() is true)");
  internal::EndProcessForUnheededSigterm();
}

}  // namespace train
