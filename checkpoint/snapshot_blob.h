// One rank's state as a memory snapshot: a self-describing blob (header, tensors, optimizer,
// sampler, random generators, metadata) closed by a CRC32C of everything before it. Decoding
// checks every length against what is left, so a damaged or hostile blob is an error, never
// an out-of-bounds read or an absurd allocation.
#ifndef TRAIN_CHECKPOINT_SNAPSHOT_BLOB_H_
#define TRAIN_CHECKPOINT_SNAPSHOT_BLOB_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "train/checkpoint.h"
#include "train/status.h"

namespace train::internal {

struct SnapshotHeader {
  std::int64_t step = 0;
  int rank = 0;
  int world_size = 0;
  std::string job_id;
};

// The blob of `state` (tensors read from their views, CPU or CUDA), into `out` (replacing
// what it held; its memory is reused, so that a snapshot every step does not fault in fresh
// pages every step).
Status EncodeSnapshot(const SnapshotHeader& header, const CheckpointState& state,
                      std::vector<std::byte>& out);
// The same into a new vector.
Result<std::vector<std::byte>> EncodeSnapshot(const SnapshotHeader& header,
                                              const CheckpointState& state);

// A decoded blob: everything but the tensors' bytes, which stay in the blob until applied.
struct DecodedSnapshot {
  SnapshotHeader header;
  LoadedCheckpoint rest;  // optimizer, sampler, rng, metadata (step and world size set)
  struct Tensor {
    std::string name;
    DType dtype = DType::kFloat32;
    std::uint64_t numel = 0;
    std::uint64_t offset = 0;
    const std::byte* bytes = nullptr;  // into the blob
  };
  std::vector<Tensor> tensors;
};

// Checks the blob (checksum, every length and field) and that it is `expected`'s snapshot
// (rank, world size, job id when not empty, step) holding exactly the tensors of `into`, with
// their dtypes, sizes and offsets. The result points into `blob`.
Result<DecodedSnapshot> DecodeSnapshot(const std::vector<std::byte>& blob,
                                       const SnapshotHeader& expected, const CheckpointState& into);

// Copies the decoded tensors into the views of `into` (as checked by DecodeSnapshot).
Status ApplySnapshot(const DecodedSnapshot& decoded, CheckpointState& into);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_SNAPSHOT_BLOB_H_
