// Checkpoints: a job's state saved to a directory so that a restarted job resumes exactly where
// it stood, and no crash at any instant leaves a checkpoint that loads wrong.
//
//   auto ckpt = train::Checkpointer::Open(env.checkpoint_dir, comm.get());
//   train::CheckpointState state;
//   state.tensors.push_back({"fc1.weight", weights_view});
//   state.optimizer = optimizer->ExportState().value();
//   TRAIN_CHECK_OK((*ckpt)->Save(step, state));          // collective; async by default
//   ...
//   auto loaded = (*ckpt)->LoadLatest(state);             // fills the views, returns the rest
//
// Layout: <dir>/step-<N>/ holds one HDF5 file per writing rank (rank-<R>.h5: tensors as
// datasets with dtype and shape attributes, readable by h5dump and h5py) and manifest.json,
// written last (files, sizes, checksums, the tensor index, world size, step, job id, library
// version). A checkpoint is written into <dir>/.step-<N>.tmp-<id>/, every file and the
// directory fsynced, then renamed into place; <dir>/latest names the newest committed one and
// is replaced atomically. Nothing is ever overwritten in place.
//
// A tensor is a global array; each rank saves and loads a contiguous range of its elements
// (offset, numel). A replicated tensor (every rank holds all of it) is written once, by one
// rank chosen by its name, so that writing is spread over ranks; a sharded one by every rank
// for its own range. Loading reads any range from whatever files hold it, so a job may resume
// with another world size.
#ifndef TRAIN_CHECKPOINT_H_
#define TRAIN_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "train/defaults.h"
#include "train/optimizer.h"
#include "train/sampler.h"
#include "train/status.h"
#include "train/tensor.h"

namespace train {

class Communicator;

struct CheckpointOptions {
  // Committed checkpoints kept, newest first; at least 1. Older ones are deleted after a new one
  // commits (never before), except those kept by keep_every.
  int keep_last = defaults::kCheckpointKeep;
  // Also keep every checkpoint whose step is a multiple of this (0: none).
  std::int64_t keep_every = 0;
  // Save returns once the state is copied to host memory; a background thread writes it.
  bool async = defaults::kCheckpointAsync;
  // Host memory an async save may hold for its snapshot. A larger state is written in waves:
  // Save then blocks until the part that does not fit has been written.
  std::uint64_t memory_budget_bytes = std::uint64_t{1} << 30;
  // Recorded in the manifest; a load refuses a checkpoint of another job (empty: no check).
  std::string job_id;
};

// A named tensor: what Save reads, and where Load writes.
struct CheckpointTensor {
  std::string name;  // unique; '/' separates HDF5 groups ("layer1/weight")
  TensorView data;   // this rank's elements, in CPU or CUDA memory
  // The global tensor's shape; empty: 1-D of the global numel (replicated: data.numel).
  std::vector<std::uint64_t> shape;
  // This rank's range of the flattened global tensor: [offset, offset + data.numel).
  // Replicated: every rank holds the whole tensor (offset 0).
  bool replicated = true;
  std::uint64_t offset = 0;
};

struct CheckpointState {
  std::vector<CheckpointTensor> tensors;
  // The optimizer's complete state (FusedOptimizer::ExportState), the same on every rank.
  std::optional<OptimizerState> optimizer;
  // The data sampler's position (the same on every rank).
  std::optional<SamplerState> sampler;
  // This rank's random generators, by name, as opaque bytes. Loading with another world size
  // gives rank r the states rank r saved, and none to ranks the old job did not have.
  std::map<std::string, std::string> rng;
  // Anything else, the same on every rank (the manifest holds it).
  std::map<std::string, std::string> metadata;
};

// What LoadLatest/Load return besides the tensors they wrote into the caller's views.
struct LoadedCheckpoint {
  std::int64_t step = 0;
  std::string path;    // <dir>/step-<N>
  int world_size = 0;  // of the job that saved it
  std::optional<OptimizerState> optimizer;
  std::optional<SamplerState> sampler;
  std::map<std::string, std::string> rng;
  std::map<std::string, std::string> metadata;
};

struct CheckpointInfo {
  std::int64_t step = 0;
  std::string path;
  int world_size = 0;
  std::uint64_t bytes = 0;  // all files
  std::string created;      // UTC, ISO 8601
  // ListCheckpoints: what is wrong with the manifest or the files' presence and sizes (nothing
  // is read); Verify also checks every byte. OK, or what is wrong (naming the file or field).
  Status verified;
};

// A checkpoint that failed verification when loading, renamed aside (see LoadLatest).
struct QuarantinedCheckpoint {
  std::int64_t step = 0;
  std::string path;    // <dir>/step-<N>.corrupt-<UTC time>
  std::string reason;  // what each rank found wrong ("" when the note is missing)
};

// A tensor as a checkpoint holds it (InspectCheckpoint).
struct CheckpointTensorInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<std::uint64_t> shape;
  bool replicated = true;
  std::vector<std::string> files;  // the files holding its pieces
};

struct CheckpointContents {
  CheckpointInfo info;
  std::string job_id;
  std::string library_version;
  std::vector<CheckpointTensorInfo> tensors;
  std::vector<std::string> rng_names;
  std::map<std::string, std::string> metadata;
  std::optional<SamplerState> sampler;
  std::int64_t optimizer_step = -1;  // -1: no optimizer state
};

class Checkpointer {
 public:
  virtual ~Checkpointer() = default;  // waits for a save in flight
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Opens (creating) `dir`. Collective over `comm` (nullptr: a job of one process). Leftover
  // temporary directories of crashed saves are removed.
  static Result<std::unique_ptr<Checkpointer>> Open(const std::string& dir, Communicator* comm,
                                                    const CheckpointOptions& options = {});

  // Saves `state` as step `step` (greater than any committed step). Collective. Synchronous,
  // or asynchronous (returns after the snapshot). At most one save is in flight: a second
  // Save first waits for the first. A background failure is returned by the next Save,
  // WaitForSave or the destructor's log; the checkpoint it was writing never commits.
  virtual Status Save(std::int64_t step, const CheckpointState& state) = 0;
  // Waits for the save in flight, if any, and returns how it ended.
  virtual Status WaitForSave() = 0;

  // Loads the newest checkpoint that verifies into the views of `into` (every tensor of `into`
  // must be in the checkpoint with the same dtype and global size). NOT_FOUND when there is
  // none. Collective. A checkpoint that fails verification on any rank (a file missing, torn,
  // not a regular file or with another checksum; a manifest that is unreadable, inconsistent,
  // or does not describe its files) is quarantined: rank 0 renames it to
  // <dir>/step-<N>.corrupt-<UTC time>/ (never deleted), a warning names it and why, and the
  // next older one is tried; step N can then be saved again. Load(step) quarantines alike and
  // returns the error.
  virtual Result<LoadedCheckpoint> LoadLatest(CheckpointState& into) = 0;
  virtual Result<LoadedCheckpoint> Load(std::int64_t step, CheckpointState& into) = 0;

  virtual Result<std::vector<CheckpointInfo>> List() = 0;
  // Every committed checkpoint, each checked as VerifyCheckpoint does (nothing is quarantined).
  virtual Result<std::vector<CheckpointInfo>> Verify() = 0;

 protected:
  Checkpointer() = default;
};

// Offline, for tools (trainctl ckpt): the committed checkpoints of `dir`, newest first.
Result<std::vector<CheckpointInfo>> ListCheckpoints(const std::string& dir);
// The quarantined checkpoints of `dir`, newest step first. Retention neither counts nor
// deletes them: they stay until someone removes them (or renames one back to step-<N>).
Result<std::vector<QuarantinedCheckpoint>> ListQuarantinedCheckpoints(const std::string& dir);
// Checks one checkpoint directory (<dir>/step-<N>): the manifest (every field, size, count,
// shape, dtype and offset, against bounds and against each other), every file (a regular
// file, its size and checksum) and every dataset against the manifest. Never hangs on a FIFO
// nor follows a symbolic link. The error names the first bad file or field and its value.
Status VerifyCheckpoint(const std::string& step_dir);
// What one checkpoint holds.
Result<CheckpointContents> InspectCheckpoint(const std::string& step_dir);

}  // namespace train

#endif  // TRAIN_CHECKPOINT_H_
