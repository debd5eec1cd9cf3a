#include "checkpointer.h"

#include <chrono>
#include <thread>
#include <utility>

#include "commit.h"
#include "load.h"
#include "rank_group.h"
#include "save.h"
#include "snapshot_arena.h"
#include "train/communicator.h"
#include "train/internal/counters.h"
#include "train/log.h"

namespace train {
namespace internal {
namespace {

// For the agent's metrics (train/metrics.h): how long saves take and stall training.
double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Quarantined checkpoints stay until someone looks at them: say so at every start.
void WarnOfQuarantined(const FileLayer& files, const std::string& dir) {
  Result<std::vector<QuarantinedDir>> quarantined = QuarantinedDirs(files, dir);
  if (!quarantined.ok() || quarantined->empty()) return;
  std::string names;
  for (const QuarantinedDir& q : *quarantined) names += (names.empty() ? "" : ", ") + q.name;
  LogWarning("checkpoint directory " + dir + " holds " + std::to_string(quarantined->size()) +
             " quarantined checkpoint(s) that failed verification: " + names +
             "; nothing deletes them: inspect them (trainctl ckpt ls), then remove them");
}

class CheckpointerImpl final : public Checkpointer {
 public:
  CheckpointerImpl(const std::string& dir, const CheckpointOptions& options,
                   std::shared_ptr<const FileLayer> files, std::unique_ptr<Communicator> comm)
      : files_(std::move(files)), comm_(std::move(comm)) {
    target_.files = files_.get();
    target_.dir = dir;
    target_.options = options;
    if (options.async) target_.arena = &arena_;
  }

  ~CheckpointerImpl() override {
    const Status status = WaitForSave();
    if (!status.ok()) LogError("checkpoint save failed: " + status.ToString());
  }

  Status Save(std::int64_t step, const CheckpointState& state) override {
    return CatchAsStatus([&] { return StartAndMaybeFinish(step, state); });
  }

  Status WaitForSave() override {
    JoinWriter();
    return std::exchange(background_result_, Status::Ok());
  }

  Result<LoadedCheckpoint> LoadLatest(CheckpointState& into) override {
    return Load(std::nullopt, into);
  }

  Result<LoadedCheckpoint> Load(std::int64_t step, CheckpointState& into) override {
    return Load(std::optional<std::int64_t>(step), into);
  }

  Result<std::vector<CheckpointInfo>> List() override {
    JoinWriter();
    return ListCheckpoints(target_.dir);
  }

  Result<std::vector<CheckpointInfo>> Verify() override {
    JoinWriter();
    TRAIN_ASSIGN_OR_RETURN(std::vector<CheckpointInfo> infos, ListCheckpoints(target_.dir));
    for (CheckpointInfo& info : infos) {
      if (info.verified.ok()) info.verified = VerifyCheckpoint(info.path);
    }
    return infos;
  }

 private:
  // Save's work: the synchronous part now, the rest now or in the writer thread (async).
  Status StartAndMaybeFinish(std::int64_t step, const CheckpointState& state) {
    TRAIN_RETURN_IF_ERROR(WaitForSave());
    const auto started = std::chrono::steady_clock::now();
    RankGroup group(comm_.get());
    TRAIN_ASSIGN_OR_RETURN(PendingSave save, StartSave(group, target_, step, -1, state));
    if (!target_.options.async || !save.local.ok()) {
      Status done = FinishSave(group, target_, save);
      if (done.ok()) CountCheckpointSave(SecondsSince(started), SecondsSince(started));
      return done;
    }
    const double stall = SecondsSince(started);
    // The background thread is the only user of the communicator until it is joined: every
    // other call joins it first.
    writer_ = std::thread([this, save = std::move(save), started, stall]() mutable {
      background_result_ = CatchAsStatus([&] {
        RankGroup background_group(comm_.get());
        return FinishSave(background_group, target_, save);
      });
      if (background_result_.ok()) CountCheckpointSave(SecondsSince(started), stall);
    });
    return Status::Ok();
  }

  // A save's failure stays for WaitForSave or the next Save to report.
  void JoinWriter() {
    if (writer_.joinable()) writer_.join();
  }

  Result<LoadedCheckpoint> Load(std::optional<std::int64_t> step, CheckpointState& into) {
    JoinWriter();
    RankGroup group(comm_.get());
    const LoadSource source{files_.get(), target_.dir, target_.options.job_id};
    return LoadCheckpoint(group, source, step, into);
  }

  std::shared_ptr<const FileLayer> files_;
  std::unique_ptr<Communicator> comm_;  // the checkpointer's own, split from the caller's
  SaveTarget target_;
  // The async snapshot's memory, reused by every save (Save waits for the previous save, the
  // only other user, before copying into it).
  SnapshotArena arena_;
  std::thread writer_;
  Status background_result_;
};

}  // namespace

Result<std::unique_ptr<Checkpointer>> OpenCheckpointer(const std::string& dir, Communicator* comm,
                                                       const CheckpointOptions& options,
                                                       std::shared_ptr<const FileLayer> files) {
  if (dir.empty()) return InvalidArgumentError("checkpoint directory is empty; give a path");
  if (options.keep_last < 1) {
    return InvalidArgumentError("CheckpointOptions::keep_last is " +
                                std::to_string(options.keep_last) + "; keep at least 1");
  }
  if (options.keep_every < 0) {
    return InvalidArgumentError("CheckpointOptions::keep_every is " +
                                std::to_string(options.keep_every) + "; use 0 (none) or more");
  }
  // A communicator of its own, over host memory: a background save talks to the other ranks
  // while the caller goes on issuing its own collectives on `comm` (which may move device
  // memory only, as NCCL does).
  std::unique_ptr<Communicator> own;
  if (comm != nullptr) {
    TRAIN_ASSIGN_OR_RETURN(own, comm->SplitForHost());
  }
  RankGroup group(own.get());
  TRAIN_RETURN_IF_ERROR(group.Barrier());  // nobody is still saving into `dir` from before
  std::string verdict;
  if (group.rank() == 0) {
    Status status = files->CreateDirs(dir);
    if (status.ok()) status = RemoveTemporaryDirs(*files, dir);
    verdict = status.ok() ? "" : status.ToString();
    if (status.ok()) WarnOfQuarantined(*files, dir);
  }
  TRAIN_ASSIGN_OR_RETURN(verdict, group.BroadcastFromRoot(verdict));
  if (!verdict.empty()) {
    return UnavailableError("cannot open checkpoint directory " + dir + " on rank 0: " + verdict);
  }
  return std::unique_ptr<Checkpointer>(
      std::make_unique<CheckpointerImpl>(dir, options, std::move(files), std::move(own)));
}

}  // namespace internal

Result<std::unique_ptr<Checkpointer>> Checkpointer::Open(const std::string& dir, Communicator* comm,
                                                         const CheckpointOptions& options) {
  return internal::OpenCheckpointer(dir, comm, options,
                                    std::make_shared<const internal::FileLayer>());
}

}  // namespace train
