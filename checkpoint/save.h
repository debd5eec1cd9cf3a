// Saving, in two halves. StartSave is the part every Save does in the caller's thread: the
// ranks agree on the step and the temporary directory, check the state, and write all but the
// last wave; an async save then copies the last wave into its reused snapshot memory and
// nothing more. FinishSave builds the last wave's HDF5 image, writes it and commits; an async
// save runs it in the background, so that Save returns right after the copy.
#ifndef TRAIN_CHECKPOINT_SAVE_H_
#define TRAIN_CHECKPOINT_SAVE_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "file_layer.h"
#include "hdf5_image_writer.h"
#include "host_staging.h"
#include "manifest.h"
#include "rank_group.h"
#include "snapshot_arena.h"
#include "train/checkpoint.h"

namespace train::internal {

struct SaveTarget {
  const FileLayer* files = nullptr;
  std::string dir;
  CheckpointOptions options;
  // Async saves: where the last wave is copied before Save returns (nullptr: saves are
  // synchronous and the last wave is built from the caller's memory).
  SnapshotArena* arena = nullptr;
};

// One dataset this rank writes.
struct SaveItem {
  enum class Kind { kTensor, kOptimizer, kRng } kind;
  std::string name;
  std::string dataset;
  DType dtype;
  std::vector<std::uint64_t> dims;
  std::vector<std::uint64_t> global_shape;
  bool replicated = true;
  std::uint64_t offset = 0;
  std::uint64_t count = 0;
  TensorView view;  // the elements (host or CUDA memory; the snapshot once staged)
  std::uint64_t bytes() const { return count * DTypeSize(dtype); }
};

struct PendingSave {
  std::int64_t step = 0;
  std::string temp_dir;
  Status local;           // this rank's first failure; the checkpoint then never commits
  std::string last_file;  // left for FinishSave to build and write ("" when none)
  std::vector<SaveItem> last_wave;
  std::unique_ptr<HostStaging> last_pinned;  // the staged copies of CUDA tensors
  Manifest contribution;                     // this rank's files and pieces
  Manifest header;  // what the manifest says besides files and pieces (rank 0's)
  std::vector<std::string> optimizer_order;
};

// The rank that writes a replicated tensor or optimizer buffer: a hash of its key, so that the
// writing is spread over ranks and every rank agrees without talking.
int WriterRank(const std::string& key, int world_size);

// Collective. Errors that every rank sees alike (a bad step, a state that does not fit
// together) are returned before anything is written; later failures go into `local`.
// `newest_started` is the newest step this process already saved or is saving (-1: none).
Result<PendingSave> StartSave(RankGroup& group, const SaveTarget& target, std::int64_t step,
                              std::int64_t newest_started, const CheckpointState& state);

// Collective. Writes what is left, gathers every rank's files and pieces, and (rank 0) writes
// the manifest and commits, then applies retention. Every rank returns the same verdict.
Status FinishSave(RankGroup& group, const SaveTarget& target, PendingSave& save);

// Runs `work` (returning Status); an exception it throws (out of memory, a library's) becomes
// its status instead of ending the process: a rank's own part of a save, so that it still takes
// part in the protocol and the others learn why, and the Checkpointer's calls and writer thread.
template <typename Work>
Status CatchAsStatus(Work&& work) {
  try {
    return work();
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory while saving the checkpoint");
  } catch (const std::exception& e) {
    return InternalError(std::string("saving the checkpoint failed: ") + e.what());
  }
}

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_SAVE_H_
