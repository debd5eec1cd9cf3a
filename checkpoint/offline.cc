// The offline functions of train/checkpoint.h: no communicator, for tools.
#include <map>
#include <set>

#include "commit.h"
#include "train/checkpoint.h"
#include "verify.h"

namespace train {
namespace {

CheckpointInfo InfoOf(const internal::Manifest& manifest, const std::string& step_dir) {
  CheckpointInfo info;
  info.step = manifest.step;
  info.path = step_dir;
  info.world_size = manifest.world_size;
  for (const internal::ManifestFile& file : manifest.files) info.bytes += file.bytes;
  info.created = manifest.created;
  return info;
}

}  // namespace

Result<std::vector<CheckpointInfo>> ListCheckpoints(const std::string& dir) {
  const internal::FileLayer files;
  TRAIN_ASSIGN_OR_RETURN(std::vector<std::int64_t> steps, internal::CommittedSteps(files, dir));
  std::vector<CheckpointInfo> out;
  for (std::int64_t step : steps) {
    const std::string step_dir = dir + "/" + internal::StepDirName(step);
    Result<internal::Manifest> manifest = internal::ReadManifest(files, step_dir);
    if (manifest.ok()) {
      out.push_back(InfoOf(*manifest, step_dir));
      out.back().verified = internal::CheckFilesPresent(step_dir, *manifest);
    } else {
      CheckpointInfo info;
      info.step = step;
      info.path = step_dir;
      info.verified = manifest.status();
      out.push_back(std::move(info));
    }
  }
  return out;
}

Result<std::vector<QuarantinedCheckpoint>> ListQuarantinedCheckpoints(const std::string& dir) {
  const internal::FileLayer files;
  TRAIN_ASSIGN_OR_RETURN(std::vector<internal::QuarantinedDir> dirs,
                         internal::QuarantinedDirs(files, dir));
  std::vector<QuarantinedCheckpoint> out;
  for (const internal::QuarantinedDir& q : dirs) {
    QuarantinedCheckpoint info{q.step, dir + "/" + q.name, ""};
    Result<std::vector<std::byte>> note =
        files.ReadFile(info.path + "/" + internal::kQuarantineNote, 1 << 20);
    if (note.ok()) info.reason.assign(reinterpret_cast<const char*>(note->data()), note->size());
    while (!info.reason.empty() && info.reason.back() == '\n') info.reason.pop_back();
    out.push_back(std::move(info));
  }
  return out;
}

Status VerifyCheckpoint(const std::string& step_dir) {
  const internal::FileLayer files;
  TRAIN_ASSIGN_OR_RETURN(internal::Manifest manifest, internal::ReadManifest(files, step_dir));
  return internal::VerifyAllFiles(step_dir, manifest);
}

Result<CheckpointContents> InspectCheckpoint(const std::string& step_dir) {
  const internal::FileLayer files;
  TRAIN_ASSIGN_OR_RETURN(internal::Manifest manifest, internal::ReadManifest(files, step_dir));
  CheckpointContents contents;
  contents.info = InfoOf(manifest, step_dir);
  contents.job_id = manifest.job_id;
  contents.library_version = manifest.library_version;
  for (const internal::ManifestTensor& tensor : manifest.tensors) {
    CheckpointTensorInfo info{tensor.name, tensor.dtype, tensor.shape, tensor.replicated, {}};
    std::set<std::string> seen;
    for (const internal::ManifestPiece& piece : tensor.pieces) {
      if (seen.insert(piece.file).second) info.files.push_back(piece.file);
    }
    contents.tensors.push_back(std::move(info));
  }
  std::set<std::string> rng_names;
  for (const auto& [rank, states] : manifest.rng_by_rank) {
    for (const internal::ManifestBuffer& state : states) rng_names.insert(state.name);
  }
  contents.rng_names.assign(rng_names.begin(), rng_names.end());
  contents.metadata = manifest.metadata;
  contents.sampler = manifest.sampler;
  contents.optimizer_step = manifest.optimizer_step;
  return contents;
}

}  // namespace train
