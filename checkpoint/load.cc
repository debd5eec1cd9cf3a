#include "load.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <vector>

#include "commit.h"
#include "hdf5_layout_check.h"
#include "host_staging.h"
#include "rank_message.h"
#include "train/log.h"
#include "verify.h"

namespace train::internal {
namespace {

// How one rank's attempt at a step went; the ranks take the worst. kUnreadable: an error that
// may pass (permissions, I/O); kDamaged: the checkpoint itself is wrong (missing or torn
// files, checksums, a manifest that does not hold together), and it is quarantined.
enum Outcome : std::int64_t { kLoadable = 0, kUnreadable = 1, kDamaged = 2, kRefused = 3 };

Outcome OutcomeOf(const Status& status) {
  const StatusCode code = status.code();
  return code == StatusCode::kDataLoss || code == StatusCode::kNotFound ? kDamaged : kUnreadable;
}

std::uint64_t Product(const std::vector<std::uint64_t>& shape) {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) n *= d;
  return n;
}

// A range of one tensor this rank asked for, and where it comes from.
struct Request {
  const CheckpointTensor* tensor;
  const ManifestTensor* stored;
  std::uint64_t begin, end;  // global elements
};

class StepAttempt {
 public:
  StepAttempt(const LoadSource& source, std::string step_dir, int rank)
      : source_(source), step_dir_(std::move(step_dir)), rank_(rank) {}

  // Reads the manifest and checks that it fits the request; reads no data. kDamaged or kRefused
  // with `error` set.
  Outcome Prepare(const CheckpointState& into) {
    Result<Manifest> manifest = ReadManifest(*source_.files, step_dir_);
    if (!manifest.ok()) return Fail(OutcomeOf(manifest.status()), manifest.status());
    manifest_ = std::move(*manifest);
    if (!source_.job_id.empty() && manifest_.job_id != source_.job_id) {
      return Fail(kRefused, FailedPreconditionError(
                                "checkpoint " + step_dir_ + " belongs to job '" + manifest_.job_id +
                                "', not to job '" + source_.job_id +
                                "'; use another directory or clear CheckpointOptions::job_id"));
    }
    std::map<std::string, const ManifestTensor*> stored;
    for (const ManifestTensor& t : manifest_.tensors) stored[t.name] = &t;
    for (const CheckpointTensor& t : into.tensors) {
      auto it = stored.find(t.name);
      if (it == stored.end()) {
        return Fail(kRefused,
                    NotFoundError("checkpoint " + step_dir_ + " has no tensor '" + t.name + "'"));
      }
      const ManifestTensor& s = *it->second;
      if (s.dtype != t.data.dtype) {
        return Fail(kRefused, InvalidArgumentError(
                                  "tensor '" + t.name + "' is " + std::string(DTypeName(s.dtype)) +
                                  " in " + step_dir_ + " but " +
                                  std::string(DTypeName(t.data.dtype)) + " in the state to load"));
      }
      const std::uint64_t global = Product(s.shape);
      const std::uint64_t begin = t.replicated ? 0 : t.offset;
      const std::uint64_t end = begin + t.data.numel;
      if ((t.replicated && t.data.numel != global) || end > global) {
        return Fail(kRefused, InvalidArgumentError(
                                  "tensor '" + t.name + "' has " + std::to_string(global) +
                                  " elements in " + step_dir_ + "; the state to load asks for [" +
                                  std::to_string(begin) + ", " + std::to_string(end) + ")"));
      }
      requests_.push_back({&t, &s, begin, end});
    }
    // Buffers are sized from the manifest's counts, which lie within the files' listed sizes:
    // with the files there at those sizes, no count can ask for more than the disk holds.
    const Status present = CheckFilesPresent(step_dir_, manifest_);
    if (!present.ok()) return Fail(OutcomeOf(present), present);
    return kLoadable;
  }

  // Streams the files this rank needs straight into the caller's tensors (and the optimizer
  // and RNG buffers it returns), each file read once and checked as it is read. kDamaged when
  // one does not check: the tensors then hold bytes of a damaged file, and the caller must
  // not report them as loaded (an older step overwrites all of them, or the load fails).
  Outcome Read() {
    for (const Request& r : requests_) {
      const std::size_t size = DTypeSize(r.stored->dtype);
      const TensorView& view = r.tensor->data;
      std::byte* out = static_cast<std::byte*>(view.data);
      if (view.device != Device::kCpu) {
        device_copies_.push_back({&r, std::vector<std::byte>(view.bytes())});
        out = device_copies_.back().host.data();
      }
      std::uint64_t covered = 0;
      for (const ManifestPiece& p : r.stored->pieces) {
        const std::uint64_t lo = std::max(r.begin, p.offset);
        const std::uint64_t hi = std::min(r.end, p.offset + p.count);
        if (lo >= hi) continue;
        const Status added = AddTarget(p, size, (lo - p.offset) * size, (hi - lo) * size,
                                       out + (lo - r.begin) * size);
        if (!added.ok()) return Fail(OutcomeOf(added), added);
        covered += hi - lo;
      }
      if (covered != r.end - r.begin) {
        return Fail(kDamaged, DataLossError("tensor '" + r.tensor->name + "' of " + step_dir_ +
                                            ": its pieces do not cover the range asked for"));
      }
    }
    if (manifest_.optimizer_step >= 0) {
      OptimizerState& optimizer = loaded_.optimizer.emplace();
      optimizer.step = manifest_.optimizer_step;
      // Sized up front: the targets point into these buffers.
      optimizer.buffers.reserve(manifest_.optimizer_buffers.size());
      for (const ManifestBuffer& b : manifest_.optimizer_buffers) {
        optimizer.names.push_back(b.name);
        optimizer.buffers.emplace_back(b.piece.count);
        const Status added =
            AddTarget(b.piece, 1, 0, b.piece.count, optimizer.buffers.back().data());
        if (!added.ok()) return Fail(OutcomeOf(added), added);
      }
    }
    auto rng = manifest_.rng_by_rank.find(rank_);
    if (rng != manifest_.rng_by_rank.end()) {
      for (const ManifestBuffer& b : rng->second) {
        std::string& state = loaded_.rng[b.name];
        state.assign(b.piece.count, '\0');
        const Status added =
            AddTarget(b.piece, 1, 0, b.piece.count, reinterpret_cast<std::byte*>(state.data()));
        if (!added.ok()) return Fail(OutcomeOf(added), added);
      }
    }
    const std::vector<PieceToCheck> pieces = AllPieces(manifest_);
    for (const ManifestFile& file : manifest_.files) {
      auto it = targets_.find(file.name);
      if (it == targets_.end()) continue;
      Status read = ReadVerifiedFile(step_dir_, file, std::move(it->second));
      if (read.ok()) read = CheckPiecesAgainstFile(step_dir_, file.name, pieces);
      if (!read.ok()) return Fail(OutcomeOf(read), read);
    }
    return kLoadable;
  }

  // Only after every rank read and checked its files: CUDA tensors get their bytes.
  Result<LoadedCheckpoint> Finish() {
    for (const DeviceCopy& copy : device_copies_) {
      TRAIN_RETURN_IF_ERROR(HostStaging::CopyToView(copy.host.data(), copy.request->tensor->data,
                                                    copy.request->tensor->name));
    }
    loaded_.step = manifest_.step;
    loaded_.path = step_dir_;
    loaded_.world_size = manifest_.world_size;
    loaded_.sampler = manifest_.sampler;
    loaded_.metadata = manifest_.metadata;
    return std::move(loaded_);
  }

  const Status& error() const { return error_; }

 private:
  Outcome Fail(Outcome outcome, Status status) {
    error_ = std::move(status);
    return outcome;
  }

  // `bytes` of the piece, from `skip` bytes into it, go to `to`; the piece must lie within a
  // file the manifest lists.
  Status AddTarget(const ManifestPiece& piece, std::size_t element_size, std::uint64_t skip,
                   std::uint64_t bytes, std::byte* to) {
    const ManifestFile* file = nullptr;
    for (const ManifestFile& f : manifest_.files) {
      if (f.name == piece.file) file = &f;
    }
    if (file == nullptr) {
      return DataLossError("manifest of " + step_dir_ + " refers to " + piece.file +
                           ", which it does not list");
    }
    const std::uint64_t piece_bytes = piece.count * element_size;
    if (piece.count > 0 &&
        (piece.byte_offset > file->bytes || piece_bytes > file->bytes - piece.byte_offset)) {
      return DataLossError("dataset " + piece.dataset + " of " + step_dir_ + "/" + piece.file +
                           " lies outside the file");
    }
    targets_[piece.file].push_back({piece.byte_offset + skip, bytes, to});
    return Status::Ok();
  }

  // A CUDA tensor's bytes, read on the host first.
  struct DeviceCopy {
    const Request* request;
    std::vector<std::byte> host;
  };

  const LoadSource& source_;
  std::string step_dir_;
  int rank_;
  Manifest manifest_;
  std::vector<Request> requests_;
  std::map<std::string, std::vector<ReadTarget>> targets_;  // by file
  std::vector<DeviceCopy> device_copies_;
  LoadedCheckpoint loaded_;
  Status error_;
};

// Rank 0: renames a damaged step aside so that the job can go on (and save that step again);
// failing that, the job still loads an older step, and the warning says what to do.
void Quarantine(const LoadSource& source, std::int64_t step,
                const std::vector<std::string>& reasons) {
  std::string reason;
  for (const std::string& r : reasons) {
    if (!r.empty()) reason += r + "\n";
  }
  if (!reason.empty()) reason.pop_back();
  const std::string step_dir = source.dir + "/" + StepDirName(step);
  Result<std::string> name = QuarantineStep(*source.files, source.dir, step, reason);
  if (name.ok()) {
    LogWarning("checkpoint " + step_dir + " failed verification and was quarantined as " +
               source.dir + "/" + *name + " (kept for inspection; nothing deletes it): " + reason);
  } else {
    LogError("checkpoint " + step_dir + " failed verification but could not be quarantined: " +
             name.status().ToString() + "; move it out of " + source.dir +
             " by hand, or saving step " + std::to_string(step) + " again will be refused");
  }
}

// "40 20 " -> {40, 20}: the steps rank 0 names.
Result<std::vector<std::int64_t>> ParseSteps(const std::string& list) {
  std::vector<std::int64_t> steps;
  for (std::size_t pos = 0; pos < list.size();) {
    const std::size_t space = std::min(list.find(' ', pos), list.size());
    std::int64_t step = 0;
    const auto [end, ec] = std::from_chars(list.data() + pos, list.data() + space, step);
    if (ec != std::errc() || end != list.data() + space) {
      return DataLossError("rank 0 sent a garbled list of checkpoint steps: \"" + list + "\"");
    }
    steps.push_back(step);
    pos = space + 1;
  }
  return steps;
}

}  // namespace

Result<LoadedCheckpoint> LoadCheckpoint(RankGroup& group, const LoadSource& source,
                                        std::optional<std::int64_t> only_step,
                                        CheckpointState& into) {
  // Rank 0 names the candidates, so that every rank tries the same steps in the same order.
  std::string candidates;
  if (group.rank() == 0) {
    Result<std::vector<std::int64_t>> steps = CommittedSteps(*source.files, source.dir);
    std::string list;
    if (steps.ok()) {
      for (std::int64_t step : *steps) {
        if (!only_step || *only_step == step) list += std::to_string(step) + " ";
      }
    }
    candidates = (steps.ok() ? RankMessage::Ok(list)
                             : RankMessage::Error(steps.status().WithContext(
                                   "cannot list checkpoint directory " + source.dir)))
                     .Encode();
  }
  TRAIN_ASSIGN_OR_RETURN(candidates, group.BroadcastFromRoot(candidates));
  TRAIN_ASSIGN_OR_RETURN(const RankMessage listed, RankMessage::Decode(candidates, 0));
  if (listed.kind == RankMessage::Kind::kError) return listed.error;
  TRAIN_ASSIGN_OR_RETURN(const std::vector<std::int64_t> steps, ParseSteps(listed.payload));
  for (std::int64_t step : steps) {
    const std::string step_dir = source.dir + "/" + StepDirName(step);
    StepAttempt attempt(source, step_dir, group.rank());
    // Two rounds: nobody writes into the caller's tensors before every rank found that the
    // step fits the request; then every rank reads, and the step loads only if all read it.
    Outcome mine = attempt.Prepare(into);
    TRAIN_ASSIGN_OR_RETURN(std::int64_t worst, group.Max(mine));
    if (worst == kLoadable) {
      mine = attempt.Read();
      TRAIN_ASSIGN_OR_RETURN(worst, group.Max(mine));
      if (worst == kLoadable) return attempt.Finish();
    }
    if (worst == kRefused) {
      if (mine != kLoadable) return attempt.error();
      return FailedPreconditionError("another rank refused checkpoint step " +
                                     std::to_string(step) + " (see its log)");
    }
    // Every rank's reason, so that rank 0 can record them with the quarantined step.
    const std::string reason = mine == kLoadable ? ""
                                                 : "rank " + std::to_string(group.rank()) + ": " +
                                                       attempt.error().ToString();
    TRAIN_ASSIGN_OR_RETURN(std::vector<std::string> reasons, group.AllGather(reason));
    if (mine != kLoadable)
      LogWarning("skipping checkpoint " + step_dir + ": " + attempt.error().ToString());
    if (worst == kDamaged && group.rank() == 0) Quarantine(source, step, reasons);
    if (only_step) {
      if (mine != kLoadable) return attempt.error();
      return DataLossError("checkpoint step " + std::to_string(step) +
                           " is damaged on another rank (see its log)");
    }
  }
  if (only_step) {
    return NotFoundError("no committed checkpoint step " + std::to_string(*only_step) + " in " +
                         source.dir);
  }
  return NotFoundError(steps.empty() ? "no committed checkpoint in " + source.dir
                                     : "no checkpoint in " + source.dir +
                                           " loads: every one is damaged (see the warnings)");
}

}  // namespace train::internal
