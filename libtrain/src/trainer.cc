// Trainer: the registered state to a CheckpointState and back.
#include "train/trainer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>
#include <utility>

#include "preemption.h"
#include "train/communicator.h"
#include "train/defaults.h"
#include "train/log.h"
#include "train/memory_snapshots.h"
#include "train/worker.h"

namespace train {

namespace fs = std::filesystem;

// This run's checkpoint directory, held with an flock on <dir>/.lock that names the holder.
// The kernel drops the lock with the process, so a crashed run never leaves it held.
class RunDirLock {
 public:
  // UNAVAILABLE (naming the holder) when a live process holds `dir`, after waiting up to
  // `patience` for it to let go.
  static Result<std::unique_ptr<RunDirLock>> Acquire(
      const fs::path& dir, const std::string& run_id,
      std::chrono::milliseconds patience = std::chrono::milliseconds(0)) {
    const std::string path = (dir / kLockName).string();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return FailedPreconditionError("cannot open the checkpoint directory's lock " + path + ": " +
                                     std::strerror(errno));
    }
    const auto until = std::chrono::steady_clock::now() + patience;
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const std::string holder = HolderOf(fd);
      ::close(fd);
      return UnavailableError("checkpoint dir " + dir.string() + " is in use by " + holder +
                              "; use another dir or wait for that run to end");
    }
    std::unique_ptr<RunDirLock> lock(new RunDirLock(fd));
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "?");
    const std::string info = "pid=" + std::to_string(getpid()) + "\nhost=" + host +
                             "\nrun=" + (run_id.empty() ? "-" : run_id) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, info.data(), info.size(), 0) != static_cast<ssize_t>(info.size())) {
      return DataLossError("cannot write " + path + ": " + std::strerror(errno));
    }
    return lock;
  }

  // Whether a live process holds `dir` (false when it has no lock file).
  static bool Held(const fs::path& dir) {
    const int fd = ::open((dir / kLockName).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
    ::close(fd);
    return held;
  }

  ~RunDirLock() { ::close(fd_); }
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

  static constexpr char kLockName[] = ".lock";

 private:
  explicit RunDirLock(int fd) : fd_(fd) {}

  // "run R (pid P on H)", from the lock file's key=value lines.
  static std::string HolderOf(int fd) {
    char buffer[512];
    const ssize_t got = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    std::map<std::string, std::string> info;
    std::istringstream lines(std::string(buffer, got > 0 ? static_cast<std::size_t>(got) : 0));
    for (std::string line; std::getline(lines, line);) {
      const std::size_t eq = line.find('=');
      if (eq != std::string::npos) info[line.substr(0, eq)] = line.substr(eq + 1);
    }
    auto value = [&](const char* key) { return info[key].empty() ? "?" : info[key]; };
    return "run " + value("run") + " (pid " + value("pid") + " on " + value("host") + ")";
  }

  int fd_;
};

namespace {

constexpr char kRunPrefix[] = "run-";
constexpr std::chrono::milliseconds kRestartLockPatience{10000};
// Room for a path in the broadcast from rank 0.
constexpr std::size_t kMessageBytes = 4096;

struct Resolved {
  TrainerOptions::ResumePolicy resume = TrainerOptions::ResumePolicy::kAuto;
  fs::path root;     // the checkpoint directory given
  fs::path run_dir;  // this run's: root/run-<id>, or root without a run id
};

Result<TrainerOptions::ResumePolicy> ParseResume(const std::string& text) {
  using Policy = TrainerOptions::ResumePolicy;
  if (text.empty() || text == "auto") return Policy::kAuto;
  if (text == "never") return Policy::kNever;
  if (text == "always") return Policy::kAlways;
  return InvalidArgumentError("TRAIN_CHECKPOINT_RESUME=\"" + text +
                              "\" is not a resume policy: use auto, never or always");
}

// The newest committed checkpoint's directory among the earlier runs under `root` (and `root`
// itself), passing over `own` and any run a live process holds. Empty when there is none.
std::string NewestEarlierCheckpoint(const fs::path& root, const fs::path& own) {
  std::vector<fs::path> candidates = {root};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kRunPrefix, 0) == 0 && entry.path() != own && entry.is_directory(ec)) {
      candidates.push_back(entry.path());
    }
  }
  std::string best, best_created;
  std::int64_t best_step = -1;
  for (const fs::path& dir : candidates) {
    if (dir == own || RunDirLock::Held(dir)) continue;
    auto list = ListCheckpoints(dir.string());
    if (!list.ok() || list->empty()) continue;
    const CheckpointInfo& newest = list->front();
    if (std::tie(newest.created, newest.step) > std::tie(best_created, best_step)) {
      best = dir.string();
      best_created = newest.created;
      best_step = newest.step;
    }
  }
  return best;
}

// Deletes the oldest run directories beyond `keep` (this run's counted), of those the trainer
// made (they hold its lock file) and no live process holds; never `own` nor `spared`.
void DeleteOldRuns(const fs::path& root, const fs::path& own, const std::string& spared, int keep) {
  std::vector<std::pair<fs::file_time_type, fs::path>> runs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const fs::path& dir = entry.path();
    if (dir.filename().string().rfind(kRunPrefix, 0) != 0 || dir == own ||
        !fs::exists(dir / RunDirLock::kLockName, ec)) {
      continue;
    }
    runs.emplace_back(fs::last_write_time(dir, ec), dir);
  }
  std::sort(runs.begin(), runs.end());  // oldest first
  const std::size_t others_kept = static_cast<std::size_t>(keep - 1);
  for (std::size_t i = 0; i + others_kept < runs.size(); ++i) {
    const fs::path& dir = runs[i].second;
    if (dir.string() == spared || fs::path(spared).parent_path() == dir) continue;
    // Held while it goes, so that no run starts in it meanwhile.
    auto lock = RunDirLock::Acquire(dir, "-");
    if (!lock.ok()) continue;  // a live run: never removed
    fs::remove_all(dir, ec);
    if (ec) LogWarning("cannot delete the old run directory " + dir.string() + ": " + ec.message());
  }
}

// Runs `decide` on rank 0 and gives every rank its outcome (a string, or rank 0's error).
Result<std::string> DecideOnRankZero(Communicator* comm, int rank,
                                     const std::function<Result<std::string>()>& decide) {
  Result<std::string> decided = std::string();
  if (rank == 0) decided = decide();
  if (comm == nullptr || comm->world_size() == 1) return decided;
  // [0]: 1 when rank 0 succeeded; then the string or the error's message.
  std::vector<char> message(kMessageBytes, '\0');
  if (rank == 0) {
    const std::string text = decided.ok() ? *decided : decided.status().message();
    message[0] = decided.ok() ? 1 : 0;
    std::copy_n(text.begin(), std::min(text.size(), kMessageBytes - 2), message.begin() + 1);
  }
  TensorView view{message.data(), DType::kUInt8, message.size()};
  TRAIN_RETURN_IF_ERROR(comm->Broadcast(view, /*root=*/0)->Wait());
  if (rank == 0) return decided;
  const std::string text(message.data() + 1);
  if (message[0] != 1) return FailedPreconditionError("rank 0: " + text);
  return text;
}

}  // namespace

Result<std::unique_ptr<Trainer>> Trainer::Create(Worker& worker, Communicator* comm,
                                                 const TrainerOptions& options) {
  TrainerOptions resolved = options;
  const WorkerEnv& env = worker.env();
  if (resolved.checkpoint_dir.empty()) resolved.checkpoint_dir = env.checkpoint_dir;
  if (resolved.every_steps == 0) {
    resolved.every_steps = env.checkpoint_every_steps > 0 ? env.checkpoint_every_steps
                                                          : defaults::kCheckpointEverySteps;
  }
  if (resolved.keep == 0) {
    resolved.keep = env.checkpoint_keep > 0 ? env.checkpoint_keep : defaults::kCheckpointKeep;
  }
  if (!resolved.async) resolved.async = env.checkpoint_async.value_or(defaults::kCheckpointAsync);
  if (resolved.run_id.empty()) resolved.run_id = env.launch_id;
  if (resolved.resume_from.empty()) resolved.resume_from = env.checkpoint_resume_from;
  if (resolved.resume == TrainerOptions::ResumePolicy::kDefault) {
    TRAIN_ASSIGN_OR_RETURN(resolved.resume, ParseResume(env.checkpoint_resume));
  }
  if (!resolved.resume_from.empty()) {
    if (resolved.resume == TrainerOptions::ResumePolicy::kNever) {
      return InvalidArgumentError("resume_from is " + resolved.resume_from +
                                  " but the resume policy is never; drop one of them");
    }
    resolved.resume = TrainerOptions::ResumePolicy::kAlways;
  }
  if (resolved.memory_every_steps == 0) {
    resolved.memory_every_steps = env.checkpoint_memory_every_steps;
  }
  if (resolved.memory_replicas < 0) {
    resolved.memory_replicas =
        env.checkpoint_memory_replicas.value_or(defaults::kMemorySnapshotReplicas);
  }
  if (resolved.memory_dir.empty()) resolved.memory_dir = env.checkpoint_memory_dir;
  if (resolved.memory_every_steps < 0) {
    return InvalidArgumentError("TrainerOptions::memory_every_steps is " +
                                std::to_string(resolved.memory_every_steps) +
                                "; give 0 (no memory snapshots) or more");
  }
  if (resolved.memory_every_steps > 0 && resolved.memory_dir.empty()) {
    LogWarning(
        "memory snapshots are asked for but have no directory (trainctl's agent gives one as "
        "TRAIN_CHECKPOINT_MEMORY_DIR; else set TrainerOptions::memory_dir): they are off");
    resolved.memory_every_steps = 0;
  }
  if (resolved.every_steps < 1) {
    return InvalidArgumentError("TrainerOptions::every_steps is " +
                                std::to_string(resolved.every_steps) + "; give 1 or more");
  }
  if (resolved.keep < 1) {
    return InvalidArgumentError("TrainerOptions::keep is " + std::to_string(resolved.keep) +
                                "; give 1 or more");
  }
  if (resolved.keep_runs < 0) {
    return InvalidArgumentError("TrainerOptions::keep_runs is " +
                                std::to_string(resolved.keep_runs) + "; give 0 (all) or more");
  }
  if (resolved.run_id.find('/') != std::string::npos) {
    return InvalidArgumentError("TrainerOptions::run_id \"" + resolved.run_id +
                                "\" names a directory, so it must not contain '/'");
  }
  if (resolved.checkpoint_dir.empty()) {
    std::unique_ptr<Trainer> trainer(new Trainer(worker, comm, std::move(resolved), nullptr));
    TRAIN_RETURN_IF_ERROR(trainer->OpenHostSide());
    return trainer;
  }

  const fs::path root = fs::absolute(resolved.checkpoint_dir).lexically_normal();
  const fs::path run_dir =
      resolved.run_id.empty() ? root : root / (std::string(kRunPrefix) + resolved.run_id);
  const int rank = comm != nullptr ? comm->rank() : worker.rank();
  // Rank 0 takes the run's directory (or learns that another run holds it), picks what a new
  // run continues from, and trims old runs; every rank learns the outcome.
  std::unique_ptr<RunDirLock> lock;
  auto decided = DecideOnRankZero(comm, rank, [&]() -> Result<std::string> {
    std::error_code ec;
    fs::create_directories(run_dir, ec);
    if (ec) {
      return FailedPreconditionError("cannot create the checkpoint directory " + run_dir.string() +
                                     ": " + ec.message() +
                                     "; fix spec.checkpoint.dir or the program's option");
    }
    // A restart may start while the run's previous rank 0 is still on its way out.
    const auto patience = env.restart_count > 0 && !resolved.run_id.empty()
                              ? kRestartLockPatience
                              : std::chrono::milliseconds(0);
    TRAIN_ASSIGN_OR_RETURN(lock, RunDirLock::Acquire(run_dir, resolved.run_id, patience));
    std::string from;
    if (resolved.resume == TrainerOptions::ResumePolicy::kAlways) {
      if (!resolved.resume_from.empty()) {
        from = fs::absolute(resolved.resume_from).lexically_normal().string();
        if (!fs::is_directory(from)) {
          return NotFoundError("the checkpoint to resume from, " + from +
                               ", is not a directory; give a checkpoint directory or DIR/step-N");
        }
      } else {
        from = NewestEarlierCheckpoint(root, run_dir);
      }
    }
    if (resolved.keep_runs > 0 && !resolved.run_id.empty()) {
      DeleteOldRuns(root, run_dir, from, resolved.keep_runs);
    }
    return from;
  });
  if (!decided.ok()) return decided.status();

  CheckpointOptions checkpoint_options;
  checkpoint_options.keep_last = resolved.keep;
  checkpoint_options.async = *resolved.async;
  checkpoint_options.job_id = worker.env().job_id;
  resolved.checkpoint_dir = run_dir.string();
  auto opened = Checkpointer::Open(resolved.checkpoint_dir, comm, checkpoint_options);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<Trainer> trainer(
      new Trainer(worker, comm, std::move(resolved), std::move(*opened)));
  trainer->lock_ = std::move(lock);
  trainer->continue_from_ = *decided;
  TRAIN_RETURN_IF_ERROR(trainer->OpenHostSide());
  return trainer;
}

Trainer::Trainer(Worker& worker, Communicator* comm, TrainerOptions options,
                 std::unique_ptr<Checkpointer> checkpointer)
    : worker_(worker),
      comm_(comm),
      options_(std::move(options)),
      checkpointer_(std::move(checkpointer)) {
  if (options_.handle_sigterm) sigterm_ = std::make_unique<internal::SigtermHold>();
}

Trainer::~Trainer() {
  if (checkpointer_ == nullptr) return;
  const Status status = checkpointer_->WaitForSave();
  if (!status.ok()) LogError("the last checkpoint save failed: " + status.ToString());
}

Status Trainer::OpenHostSide() {
  if (comm_ != nullptr && comm_->backend() == CommBackend::kNccl) {
    TRAIN_ASSIGN_OR_RETURN(host_comm_, comm_->SplitForHost());
  }
  if (options_.memory_every_steps == 0) return Status::Ok();
  MemorySnapshotOptions options;
  options.dir = options_.memory_dir;
  options.replicas = options_.memory_replicas;
  options.node = worker_.env().node_rank;
  options.job_id = worker_.env().job_id;
  auto opened = MemorySnapshots::Open(HostComm(), options);
  if (!opened.ok()) return opened.status().WithContext("opening the memory snapshots");
  memory_ = std::move(*opened);
  return Status::Ok();
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
  using Policy = TrainerOptions::ResumePolicy;
  if (options_.resume == Policy::kNever) return std::int64_t{0};
  if (checkpointer_ == nullptr && memory_ == nullptr) return std::int64_t{0};
  CheckpointState into;
  into.tensors = tensors_;
  // This run's own state first: after a restart that is where it stood.
  TRAIN_ASSIGN_OR_RETURN(std::optional<LoadedCheckpoint> from_memory, LoadFromMemory(into));
  Result<LoadedCheckpoint> loaded = NotFoundError("no checkpoint");
  if (from_memory) {
    loaded = std::move(*from_memory);
  } else if (checkpointer_ != nullptr) {
    loaded = checkpointer_->LoadLatest(into);
  }
  if (!loaded.ok() && loaded.status().code() == StatusCode::kNotFound) {
    if (options_.resume != Policy::kAlways || continue_from_.empty()) return std::int64_t{0};
    loaded = LoadEarlierRun(into);
  }
  if (!loaded.ok()) return loaded.status();
  TRAIN_RETURN_IF_ERROR(Restore(*loaded));
  resumed_ = std::move(*loaded);
  last_saved_step_ = resumed_.step;
  LogInfo("resumed from " + resumed_.path + " (step " + std::to_string(resumed_.step) + ")");
  return resumed_.step;
}

Result<std::optional<LoadedCheckpoint>> Trainer::LoadFromMemory(CheckpointState& into) {
  if (memory_ == nullptr) return std::optional<LoadedCheckpoint>();
  // Snapshots win only when newer than the run's newest disk checkpoint.
  std::int64_t on_disk = 0;
  if (checkpointer_ != nullptr) {
    auto listed = ListCheckpoints(options_.checkpoint_dir);
    if (listed.ok() && !listed->empty()) on_disk = listed->front().step;
  }
  return memory_->LoadLatest(into, on_disk);
}

Result<LoadedCheckpoint> Trainer::LoadEarlierRun(CheckpointState& into) {
  // A DIR/step-N names one checkpoint; any other directory holds checkpoints.
  const fs::path from(continue_from_);
  const std::string name = from.filename().string();
  std::int64_t step = -1;
  if (name.rfind("step-", 0) == 0) {
    try {
      step = std::stoll(name.substr(5));
    } catch (const std::exception&) {
      step = -1;
    }
  }
  const std::string dir = step >= 0 ? from.parent_path().string() : from.string();
  CheckpointOptions checkpoint_options;
  checkpoint_options.async = false;
  checkpoint_options.job_id = worker_.env().job_id;
  TRAIN_ASSIGN_OR_RETURN(auto earlier, Checkpointer::Open(dir, comm_, checkpoint_options));
  auto loaded = step >= 0 ? earlier->Load(step, into) : earlier->LoadLatest(into);
  if (!loaded.ok()) {
    return loaded.status().WithContext("continuing from the earlier run's checkpoints in " +
                                       continue_from_);
  }
  LogInfo("this run continues from " + loaded->path + "; its own checkpoints go to " +
          options_.checkpoint_dir);
  return loaded;
}

Status Trainer::EndStep(std::int64_t step) {
  TRAIN_RETURN_IF_ERROR(worker_.ReportProgress(step));
  if (preempted_step_ < 0) {
    TRAIN_ASSIGN_OR_RETURN(const bool preempt, AgreeOnPreemption());
    if (preempt) return SaveOnPreemption(step);
  } else {
    WarnPreemptionUnheeded(step);
  }
  if (memory_ != nullptr && step % options_.memory_every_steps == 0) {
    TRAIN_ASSIGN_OR_RETURN(CheckpointState state, Snapshot());
    TRAIN_RETURN_IF_ERROR(memory_->Save(step, state));
  }
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
