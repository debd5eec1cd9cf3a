// Trainer: the registered state to a CheckpointState and back.
#include "train/trainer.h"

#include <sstream>
#include <utility>

#include "train/communicator.h"
#include "train/log.h"
#include "train/worker.h"

namespace train {

Result<std::unique_ptr<Trainer>> Trainer::Create(Worker& worker, Communicator* comm,
                                                 const TrainerOptions& options) {
  TrainerOptions resolved = options;
  const WorkerEnv& env = worker.env();
  if (resolved.checkpoint_dir.empty()) resolved.checkpoint_dir = env.checkpoint_dir;
  if (resolved.every_steps == 0) {
    resolved.every_steps = env.checkpoint_every_steps > 0 ? env.checkpoint_every_steps : 1000;
  }
  if (resolved.keep == 0) resolved.keep = env.checkpoint_keep > 0 ? env.checkpoint_keep : 3;
  if (!resolved.async) resolved.async = env.checkpoint_async.value_or(true);
  if (resolved.every_steps < 1) {
    return InvalidArgumentError("TrainerOptions::every_steps is " +
                                std::to_string(resolved.every_steps) + "; give 1 or more");
  }
  if (resolved.keep < 1) {
    return InvalidArgumentError("TrainerOptions::keep is " + std::to_string(resolved.keep) +
                                "; give 1 or more");
  }
  std::unique_ptr<Checkpointer> checkpointer;
  if (!resolved.checkpoint_dir.empty()) {
    CheckpointOptions checkpoint_options;
    checkpoint_options.keep_last = resolved.keep;
    checkpoint_options.async = *resolved.async;
    checkpoint_options.job_id = worker.env().job_id;
    auto opened = Checkpointer::Open(resolved.checkpoint_dir, comm, checkpoint_options);
    if (!opened.ok()) return opened.status();
    checkpointer = std::move(*opened);
  }
  return std::unique_ptr<Trainer>(
      new Trainer(worker, comm, std::move(resolved), std::move(checkpointer)));
}

Trainer::Trainer(Worker& worker, Communicator* comm, TrainerOptions options,
                 std::unique_ptr<Checkpointer> checkpointer)
    : worker_(worker),
      comm_(comm),
      options_(std::move(options)),
      checkpointer_(std::move(checkpointer)) {}

Trainer::~Trainer() {
  if (checkpointer_ == nullptr) return;
  const Status status = checkpointer_->WaitForSave();
  if (!status.ok()) LogError("the last checkpoint save failed: " + status.ToString());
}

void Trainer::AddTensor(CheckpointTensor tensor) { tensors_.push_back(std::move(tensor)); }
void Trainer::SetOptimizer(FusedOptimizer* optimizer) { optimizer_ = optimizer; }
void Trainer::SetSampler(ShardedSampler* sampler, const SamplerOptions& options) {
  sampler_ = sampler;
  sampler_options_ = options;
}
void Trainer::SetSamplerState(SamplerState* state) { sampler_state_ = state; }
void Trainer::AddRng(const std::string& name, std::mt19937_64* rng) { rngs_[name] = rng; }
void Trainer::SetMetadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

Result<CheckpointState> Trainer::Snapshot() const {
  CheckpointState state;
  state.tensors = tensors_;
  if (optimizer_ != nullptr) {
    auto exported = optimizer_->ExportState();
    if (!exported.ok()) return exported.status().WithContext("exporting the optimizer's state");
    state.optimizer = std::move(*exported);
  }
  if (sampler_ != nullptr) state.sampler = sampler_->state();
  if (sampler_state_ != nullptr) state.sampler = *sampler_state_;
  for (const auto& [name, rng] : rngs_) {
    std::ostringstream out;
    out << *rng;
    state.rng[name] = out.str();
  }
  state.metadata = metadata_;
  return state;
}

Status Trainer::Restore(const LoadedCheckpoint& loaded) {
  if (optimizer_ != nullptr) {
    if (!loaded.optimizer) {
      return DataLossError(loaded.path + " holds no optimizer state, but an optimizer is set");
    }
    TRAIN_RETURN_IF_ERROR(
        optimizer_->ImportState(*loaded.optimizer).WithContext("restoring from " + loaded.path));
  }
  if ((sampler_ != nullptr || sampler_state_ != nullptr) && !loaded.sampler) {
    return DataLossError(loaded.path + " holds no sampler state, but a sampler is set");
  }
  if (sampler_ != nullptr) {
    const int rank = comm_ != nullptr ? comm_->rank() : worker_.rank();
    const int world = comm_ != nullptr ? comm_->world_size() : worker_.world_size();
    auto rebuilt = ShardedSampler::Create(sampler_options_, rank, world, *loaded.sampler);
    if (!rebuilt.ok()) return rebuilt.status().WithContext("restoring the sampler");
    *sampler_ = std::move(*rebuilt);
  }
  if (sampler_state_ != nullptr) *sampler_state_ = *loaded.sampler;
  for (const auto& [name, rng] : rngs_) {
    auto saved = loaded.rng.find(name);
    if (saved == loaded.rng.end()) {
      // A rank the saving job did not have: its generator keeps its seed.
      LogWarning(loaded.path + " holds no random generator \"" + name +
                 "\" for this rank; it keeps its initial state");
      continue;
    }
    std::istringstream in(saved->second);
    in >> *rng;
    if (in.fail()) {
      return DataLossError(loaded.path + ": random generator \"" + name +
                           "\" does not parse as a std::mt19937_64 state");
    }
  }
  return Status::Ok();
}

Result<std::int64_t> Trainer::Resume() {
  if (checkpointer_ == nullptr) return std::int64_t{0};
  CheckpointState into;
  into.tensors = tensors_;
  auto loaded = checkpointer_->LoadLatest(into);
  if (!loaded.ok() && loaded.status().code() == StatusCode::kNotFound) return std::int64_t{0};
  if (!loaded.ok()) return loaded.status();
  TRAIN_RETURN_IF_ERROR(Restore(*loaded));
  resumed_ = std::move(*loaded);
  last_saved_step_ = resumed_.step;
  LogInfo("resumed from " + resumed_.path + " (step " + std::to_string(resumed_.step) + ")");
  return resumed_.step;
}

Status Trainer::EndStep(std::int64_t step) {
  TRAIN_RETURN_IF_ERROR(worker_.ReportProgress(step));
  if (checkpointer_ == nullptr || step % options_.every_steps != 0) return Status::Ok();
  return Save(step);
}

Status Trainer::Save(std::int64_t step) {
  if (checkpointer_ == nullptr) {
    return FailedPreconditionError(
        "no checkpoint directory: set TrainerOptions::checkpoint_dir "
        "or the job's spec.checkpoint.dir");
  }
  if (step <= last_saved_step_) return Status::Ok();  // already saved (e.g. the resumed step)
  TRAIN_ASSIGN_OR_RETURN(CheckpointState state, Snapshot());
  TRAIN_RETURN_IF_ERROR(checkpointer_->Save(step, state));
  last_saved_step_ = step;
  return Status::Ok();
}

Status Trainer::Finish() {
  if (checkpointer_ == nullptr) return Status::Ok();
  return checkpointer_->WaitForSave();
}

}  // namespace train
