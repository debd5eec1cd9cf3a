// A training loop's checkpoint wiring: restore everything on start, save every N steps.
//
//   auto worker = train::Worker::Init();
//   auto comm = train::Communicator::Create(**worker);
//   auto trainer = train::Trainer::Create(**worker, comm->get());   // TRAIN_CHECKPOINT_DIR
//   (*trainer)->AddTensor({"w", weights_view});
//   (*trainer)->SetOptimizer(optimizer.get());
//   (*trainer)->SetSampler(&sampler, sampler_options);
//   (*trainer)->AddRng("dropout", &rng);
//   auto done = (*trainer)->Resume();                // steps already taken (0 on a fresh start)
//   for (std::int64_t step = *done + 1; step <= total_steps; ++step) {
//     ...forward, backward, all-reduce, optimizer->Step()...
//     TRAIN_CHECK_OK((*trainer)->EndStep(step));     // saves every every_steps; collective
//     if ((*trainer)->PreemptionRequested()) return train::kExitPreempted;  // step is saved
//   }
//   TRAIN_CHECK_OK((*trainer)->Finish());            // waits for the last save
//
// A step number counts completed steps: the checkpoint saved by EndStep(40) holds the state
// after 40 steps, and Resume() then returns 40. Everything the trainer saves (tensors,
// optimizer state, sampler position, RNG states) is restored by Resume, so a restarted job
// continues bitwise as if it had never stopped. Without a checkpoint directory the trainer
// saves nothing and Resume returns 0; EndStep still reports progress to the launcher.
//
// Preemption (SIGTERM: a Kubernetes eviction, a spot reclaim, `trainctl run` stopped). While a
// trainer lives, SIGTERM does not end the process: it sets a flag (the handler is async-signal-
// safe), and every EndStep agrees over the communicator, with a one-number all-reduce, whether any
// rank got one (an NCCL communicator takes device memory only: then each rank goes by its own
// signal, which agrees when every rank gets SIGTERM, as from trainctl or torchrun). The EndStep
// where they agree saves that step on every rank at once, synchronously, whatever every_steps says,
// and from then on PreemptionRequested() is true on every rank: the program returns kExitPreempted,
// and a restart resumes from that step, so no step is lost. A rank that got no signal learns it
// from the all-reduce. The same holds under torchrun (which forwards SIGTERM to its workers) and
// mpirun. A program that installed its own SIGTERM handler before Create keeps it: the trainer's
// records the request and then calls it (if it exits, the process exits as before); one installed
// after Create replaces the trainer's, and may call RequestPreemption() to ask for the save. A
// program that does not check PreemptionRequested is not kept alive by the trainer: the next
// EndStep after the save ends it with SIGTERM's default action, as the signal would have without a
// trainer (only after saving), and a SIGTERM that no EndStep followed takes that effect when the
// last trainer is destroyed.
#ifndef TRAIN_TRAINER_H_
#define TRAIN_TRAINER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/sampler.h"
#include "train/status.h"

namespace train {

class Communicator;
class MemorySnapshots;
class RunDirLock;
class Worker;

namespace internal {
class SigtermHold;
}  // namespace internal

// The exit status of a program that stopped because preemption was requested, after EndStep
// saved its step (sysexits' EX_TEMPFAIL: try again). trainctl restarts a group whose workers
// exit with it without counting a restart, and exits with it itself when SIGTERM stopped it.
inline constexpr int kExitPreempted = 75;

// Relative to the round's store (Worker::store()): where rank `rank` records the step it saved
// on preemption, so that its launcher can tell a preemption from a program that exited 75.
std::string PreemptedStepKey(int rank);

// Asks this process's trainers to save and stop at the next EndStep, as SIGTERM does.
// Async-signal-safe: for a program's own signal handler.
void RequestPreemption();

struct TrainerOptions {
  // Where checkpoints go; empty: the worker's (TRAIN_CHECKPOINT_DIR, the spec's
  // checkpoint.dir). Both empty: no checkpoints.
  //
  // Runs. Each run (one launch: `trainctl run`, the agents of one job) checkpoints into a
  // directory of its own, <checkpoint_dir>/run-<run_id>/, which its rank 0 holds locked
  // (flock on .lock) while it trains: two runs never write one directory, and a new run never
  // silently resumes another's checkpoints. Without a run id (a program started by hand or by
  // torchrun) checkpoint_dir itself is the run's, locked the same way.
  std::string checkpoint_dir;
  // The run's id; empty: the worker's launch id (TRAIN_LAUNCH_ID, set by trainctl).
  std::string run_id;

  // What Resume loads.
  enum class ResumePolicy {
    kDefault,  // the job's spec.checkpoint.resume (TRAIN_CHECKPOINT_RESUME), else kAuto
    kAuto,     // this run's newest checkpoint (a restart within the run resumes; a new run
               // starts at step 0)
    kNever,    // nothing: every start, restarts included, is at step 0
    kAlways,   // as kAuto, and a new run continues from resume_from, or else from the newest
               // checkpoint an earlier run left under checkpoint_dir (runs still held by a live
               // process are passed over)
  };
  ResumePolicy resume = ResumePolicy::kDefault;
  // The checkpoint directory (a run-<id>/ one, or one DIR/step-N) a new run continues from;
  // implies kAlways. Empty: the job's spec.checkpoint.resumeFrom (TRAIN_CHECKPOINT_RESUME_FROM).
  std::string resume_from;
  // Run directories kept under checkpoint_dir, this run's included: a new run deletes the
  // oldest beyond this many, but only run-<id>/ directories the trainer made (they hold its
  // .lock) that no live run holds and that this run does not resume from. 0: keep all.
  int keep_runs = 0;

  // Save every this many steps, keep this many checkpoints, save in the background. Unset
  // (0, nullopt): the job's spec.checkpoint.everySteps, keep and async (TRAIN_CHECKPOINT_*),
  // else the spec's defaults: 1000, 3, true.
  std::int64_t every_steps = 0;
  int keep = 0;
  std::optional<bool> async;

  // In-memory peer snapshots (train/memory_snapshots.h): every this many steps, with
  // memory_replicas copies on other nodes, in the node-local directory memory_dir. Unset (0, -1,
  // empty): the job's spec.checkpoint.memory (TRAIN_CHECKPOINT_MEMORY_*), else none; replicas
  // default to 1. Resume then takes the newer of the run's disk checkpoint and the newest step
  // whose snapshots survive somewhere, so a restart after a worker's or a node's loss repeats
  // at most memory_every_steps steps. Works with or without checkpoint_dir.
  std::int64_t memory_every_steps = 0;
  int memory_replicas = -1;
  std::string memory_dir;

  // Whether SIGTERM requests preemption (see the top of this file). false: the process keeps
  // whatever SIGTERM does, and only RequestPreemption() asks for the save.
  bool handle_sigterm = true;
};

class Trainer {
 public:
  // `worker` and `comm` (nullptr: a job of one process) must outlive the trainer. Opens the
  // checkpoint directory (collective).
  static Result<std::unique_ptr<Trainer>> Create(Worker& worker, Communicator* comm,
                                                 const TrainerOptions& options = {});
  ~Trainer();  // waits for a save in flight
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // What to save and restore. Register everything before Resume; the memory behind each
  // must stay valid while the trainer lives.
  void AddTensor(CheckpointTensor tensor);
  void SetOptimizer(FusedOptimizer* optimizer);
  // Resume rebuilds `sampler` from `options` (the ones it was created with) at the saved
  // position.
  void SetSampler(ShardedSampler* sampler, const SamplerOptions& options);
  // For a sampler of the caller's own: the trainer saves and restores this state.
  void SetSamplerState(SamplerState* state);
  // Saved with operator<< and restored with operator>>; names are unique per rank.
  void AddRng(const std::string& name, std::mt19937_64* rng);
  // Saved in every checkpoint's manifest (the same on every rank).
  void SetMetadata(const std::string& key, const std::string& value);

  // Loads the newest checkpoint that verifies, if any, into everything registered and
  // returns its step (0 when there is none). Collective.
  Result<std::int64_t> Resume();
  // Called after step `step` completed: reports progress, and saves when `step` is a
  // multiple of every_steps. When any rank was asked to stop (SIGTERM, RequestPreemption), it
  // saves `step` now on every rank and waits for the save to commit; PreemptionRequested()
  // then says so. Collective: one all-reduce of one number on every call.
  Status EndStep(std::int64_t step);
  // True on every rank once an EndStep agreed on preemption and saved its step: the program
  // should return kExitPreempted. A signal that arrived since the last EndStep does not count
  // yet (the ranks have not agreed on it).
  bool PreemptionRequested() const { return preempted_step_ >= 0; }
  // The step saved on preemption, -1 before.
  std::int64_t preempted_step() const { return preempted_step_; }
  // Saves step `step` now (collective), whatever every_steps says.
  Status Save(std::int64_t step);
  // Waits for the save in flight and returns how it ended.
  Status Finish();

  bool checkpointing() const { return checkpointer_ != nullptr; }
  bool memory_snapshots() const { return memory_ != nullptr; }
  // As resolved: checkpoint_dir is this run's directory (run-<id>/ under the one given).
  const TrainerOptions& options() const { return options_; }
  // The checkpoint Resume loaded (step 0 and empty path when none).
  const LoadedCheckpoint& resumed() const { return resumed_; }

 private:
  Trainer(Worker& worker, Communicator* comm, TrainerOptions options,
          std::unique_ptr<Checkpointer> checkpointer);
  // Collective, after construction: the host communicator (when comm_ is NCCL), then the
  // memory snapshots.
  Status OpenHostSide();
  Communicator* HostComm() const { return host_comm_ != nullptr ? host_comm_.get() : comm_; }
  Result<std::optional<LoadedCheckpoint>> LoadFromMemory(CheckpointState& into);
  Result<LoadedCheckpoint> LoadEarlierRun(CheckpointState& into);
  Result<CheckpointState> Snapshot() const;
  Status Restore(const LoadedCheckpoint& loaded);
  Result<bool> AgreeOnPreemption();
  Status SaveOnPreemption(std::int64_t step);
  void WarnPreemptionUnheeded(std::int64_t step);

  Worker& worker_;
  Communicator* comm_;
  TrainerOptions options_;
  std::unique_ptr<Checkpointer> checkpointer_;
  // The same ranks over host memory when comm_ moves device memory only (NCCL): the memory
  // snapshots and the preemption vote travel on it. Null otherwise (comm_ serves).
  std::unique_ptr<Communicator> host_comm_;
  std::unique_ptr<MemorySnapshots> memory_;
  std::unique_ptr<RunDirLock> lock_;  // rank 0 only: this run's directory
  std::string continue_from_;         // kAlways: an earlier run's checkpoint, or empty
  std::vector<CheckpointTensor> tensors_;
  FusedOptimizer* optimizer_ = nullptr;
  ShardedSampler* sampler_ = nullptr;
  SamplerOptions sampler_options_;
  SamplerState* sampler_state_ = nullptr;
  std::map<std::string, std::mt19937_64*> rngs_;
  std::map<std::string, std::string> metadata_;
  std::int64_t last_saved_step_ = -1;
  std::int64_t preempted_step_ = -1;
  LoadedCheckpoint resumed_;
  std::unique_ptr<internal::SigtermHold> sigterm_;  // while handle_sigterm
};

}  // namespace train

#endif  // TRAIN_TRAINER_H_
