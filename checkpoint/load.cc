#include "load.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "commit.h"
#include "host_staging.h"
#include "train/log.h"
#include "verify.h"

namespace train::internal {
namespace {

// How one rank's attempt at a step went; the ranks take the worst.
enum Outcome : std::int64_t { kLoadable = 0, kDamaged = 1, kRefused = 2 };

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

  // Reads and checks everything this rank needs. kDamaged or kRefused with `error` set.
  Outcome Prepare(const CheckpointState& into) {
    Result<Manifest> manifest = ReadManifest(*source_.files, step_dir_);
    if (!manifest.ok()) return Fail(kDamaged, manifest.status());
    manifest_ = std::move(*manifest);
    if (!source_.job_id.empty() && manifest_.job_id != source_.job_id) {
      return Fail(kRefused, FailedPreconditionError(
                                "checkpoint " + step_dir_ + " belongs to job '" + manifest_.job_id +
                                "', not to job '" + source_.job_id +
                                "'; use another directory or clear CheckpointOptions::job_id"));
    }
    std::map<std::string, const ManifestTensor*> stored;
    for (const ManifestTensor& t : manifest_.tensors) stored[t.name] = &t;
    std::set<std::string> needed;
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
      for (const ManifestPiece& p : s.pieces) {
        if (p.offset < end && p.offset + p.count > begin) needed.insert(p.file);
      }
    }
    for (const ManifestBuffer& b : manifest_.optimizer_buffers) needed.insert(b.piece.file);
    auto rng = manifest_.rng_by_rank.find(rank_);
    if (rng != manifest_.rng_by_rank.end()) {
      for (const ManifestBuffer& b : rng->second) needed.insert(b.piece.file);
    }
    for (const ManifestFile& file : manifest_.files) {
      if (!needed.count(file.name)) continue;
      Result<std::vector<std::byte>> bytes = ReadVerifiedFile(*source_.files, step_dir_, file);
      if (!bytes.ok()) return Fail(kDamaged, bytes.status());
      images_[file.name] = std::move(*bytes);
      needed.erase(file.name);
    }
    if (!needed.empty()) {
      return Fail(kDamaged, DataLossError("manifest of " + step_dir_ + " refers to " +
                                          *needed.begin() + ", which it does not list"));
    }
    return kLoadable;
  }

  // Copies into the caller's tensors; only after every rank prepared.
  Result<LoadedCheckpoint> Fill() {
    for (const Request& r : requests_) TRAIN_RETURN_IF_ERROR(FillTensor(r));
    LoadedCheckpoint loaded;
    loaded.step = manifest_.step;
    loaded.path = step_dir_;
    loaded.world_size = manifest_.world_size;
    loaded.sampler = manifest_.sampler;
    loaded.metadata = manifest_.metadata;
    if (manifest_.optimizer_step >= 0) {
      OptimizerState optimizer;
      optimizer.step = manifest_.optimizer_step;
      for (const ManifestBuffer& b : manifest_.optimizer_buffers) {
        TRAIN_ASSIGN_OR_RETURN(const std::byte* bytes, Bytes(b.piece, 1));
        optimizer.names.push_back(b.name);
        optimizer.buffers.emplace_back(bytes, bytes + b.piece.count);
      }
      loaded.optimizer = std::move(optimizer);
    }
    auto rng = manifest_.rng_by_rank.find(rank_);
    if (rng != manifest_.rng_by_rank.end()) {
      for (const ManifestBuffer& b : rng->second) {
        TRAIN_ASSIGN_OR_RETURN(const std::byte* bytes, Bytes(b.piece, 1));
        loaded.rng[b.name].assign(reinterpret_cast<const char*>(bytes), b.piece.count);
      }
    }
    return loaded;
  }

  const Status& error() const { return error_; }

 private:
  Outcome Fail(Outcome outcome, Status status) {
    error_ = std::move(status);
    return outcome;
  }

  // The piece's elements in its file's image, bounds checked.
  Result<const std::byte*> Bytes(const ManifestPiece& piece, std::size_t element_size) {
    const std::vector<std::byte>& image = images_.at(piece.file);
    const std::uint64_t bytes = piece.count * element_size;
    if (piece.count > 0 &&
        (piece.byte_offset > image.size() || bytes > image.size() - piece.byte_offset)) {
      return DataLossError("dataset " + piece.dataset + " of " + step_dir_ + "/" + piece.file +
                           " lies outside the file");
    }
    return image.data() + piece.byte_offset;
  }

  Status FillTensor(const Request& r) {
    const std::size_t size = DTypeSize(r.stored->dtype);
    const TensorView& view = r.tensor->data;
    std::vector<std::byte> staging;
    std::byte* out = static_cast<std::byte*>(view.data);
    if (view.device != Device::kCpu) {
      staging.resize(view.bytes());
      out = staging.data();
    }
    std::uint64_t covered = 0;
    for (const ManifestPiece& p : r.stored->pieces) {
      const std::uint64_t lo = std::max(r.begin, p.offset);
      const std::uint64_t hi = std::min(r.end, p.offset + p.count);
      if (lo >= hi) continue;
      TRAIN_ASSIGN_OR_RETURN(const std::byte* bytes, Bytes(p, size));
      std::memcpy(out + (lo - r.begin) * size, bytes + (lo - p.offset) * size, (hi - lo) * size);
      covered += hi - lo;
    }
    if (covered != r.end - r.begin) {
      return DataLossError("tensor '" + r.tensor->name + "' of " + step_dir_ +
                           ": its pieces do not cover the range asked for");
    }
    if (view.device != Device::kCpu) {
      return HostStaging::CopyToView(staging.data(), view, r.tensor->name);
    }
    return Status::Ok();
  }

  const LoadSource& source_;
  std::string step_dir_;
  int rank_;
  Manifest manifest_;
  std::vector<Request> requests_;
  std::map<std::string, std::vector<std::byte>> images_;
  Status error_;
};

}  // namespace

Result<LoadedCheckpoint> LoadCheckpoint(RankGroup& group, const LoadSource& source,
                                        std::optional<std::int64_t> only_step,
                                        CheckpointState& into) {
  // Rank 0 names the candidates, so that every rank tries the same steps in the same order.
  std::string candidates;
  if (group.rank() == 0) {
    Result<std::vector<std::int64_t>> steps = CommittedSteps(source.dir);
    if (steps.ok()) {
      for (std::int64_t step : *steps) {
        if (!only_step || *only_step == step) candidates += std::to_string(step) + " ";
      }
    } else {
      candidates = "E";
    }
  }
  TRAIN_ASSIGN_OR_RETURN(candidates, group.BroadcastFromRoot(candidates));
  if (candidates == "E") {
    return UnavailableError("cannot list checkpoint directory " + source.dir + " on rank 0");
  }
  std::vector<std::int64_t> steps;
  for (std::size_t pos = 0; pos < candidates.size();) {
    const std::size_t space = candidates.find(' ', pos);
    steps.push_back(std::stoll(candidates.substr(pos, space - pos)));
    pos = space + 1;
  }
  for (std::int64_t step : steps) {
    StepAttempt attempt(source, source.dir + "/" + StepDirName(step), group.rank());
    const Outcome mine = attempt.Prepare(into);
    TRAIN_ASSIGN_OR_RETURN(const std::int64_t worst, group.Max(mine));
    if (worst == kLoadable) return attempt.Fill();
    if (mine != kLoadable) {
      if (worst == kRefused || only_step) return attempt.error();
      LogWarning("skipping checkpoint " + source.dir + "/" + StepDirName(step) + ": " +
                 attempt.error().ToString());
    }
    if (worst == kRefused) {
      return FailedPreconditionError("another rank refused checkpoint step " +
                                     std::to_string(step) + " (see its log)");
    }
    if (only_step) {
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
