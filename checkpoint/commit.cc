#include "commit.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <tuple>

#include "manifest.h"

namespace train::internal {
namespace {

constexpr char kStepPrefix[] = "step-";
constexpr char kLatestName[] = "latest";
constexpr char kCorruptInfix[] = ".corrupt-";

// "20240501T120000Z": sorts by time, and has no characters a shell or a URL would mind.
std::string CompactUtcNow() {
  std::string text = UtcNowIso8601();
  text.erase(std::remove(text.begin(), text.end(), '-'), text.end());
  text.erase(std::remove(text.begin(), text.end(), ':'), text.end());
  return text;
}

Status PointLatest(const FileLayer& files, const std::string& dir, const std::string& temp,
                   std::int64_t step) {
  const std::string pointer = StepDirName(step) + "\n";
  TRAIN_RETURN_IF_ERROR(files.WriteFile(temp, pointer.data(), pointer.size()).status());
  TRAIN_RETURN_IF_ERROR(files.Rename(temp, dir + "/" + kLatestName));
  return files.SyncDir(dir);
}

}  // namespace

std::string StepDirName(std::int64_t step) { return kStepPrefix + std::to_string(step); }

std::string TempDirName(std::int64_t step, const std::string& id) {
  return "." + StepDirName(step) + ".tmp-" + id;
}

std::int64_t StepFromDirName(const std::string& name) {
  const std::string_view prefix = kStepPrefix;
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  std::int64_t step = -1;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size();
  const auto [end, error] = std::from_chars(first, last, step);
  if (error != std::errc() || end != last || step < 0) return -1;
  if (name != StepDirName(step)) return -1;  // "step-007": not a name this library writes
  return step;
}

Result<std::vector<DirEntry>> ListCheckpointDir(const FileLayer& files, const std::string& dir) {
  Result<std::vector<DirEntry>> entries = files.ListDir(dir);
  if (!entries.ok() && entries.status().code() == StatusCode::kNotFound) {
    return std::vector<DirEntry>{};  // nothing saved yet
  }
  return entries;
}

Result<std::vector<std::int64_t>> CommittedSteps(const FileLayer& files, const std::string& dir) {
  TRAIN_ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ListCheckpointDir(files, dir));
  std::vector<std::int64_t> steps;
  for (const DirEntry& entry : entries) {
    const std::int64_t step = StepFromDirName(entry.name);
    if (step >= 0 && entry.is_dir) steps.push_back(step);
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}

Status RemoveTemporaryDirs(const FileLayer& files, const std::string& dir) {
  TRAIN_ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ListCheckpointDir(files, dir));
  for (const DirEntry& entry : entries) {
    if (entry.name.rfind(".step-", 0) == 0 && entry.name.find(".tmp-") != std::string::npos) {
      TRAIN_RETURN_IF_ERROR(files.RemoveAll(dir + "/" + entry.name));
    }
  }
  return Status::Ok();
}

Status CommitStep(const FileLayer& files, const std::string& dir, const std::string& temp_dir,
                  std::int64_t step, const std::string& manifest_json) {
  const std::string manifest_path = temp_dir + "/" + kManifestName;
  TRAIN_RETURN_IF_ERROR(
      files.WriteFile(manifest_path, manifest_json.data(), manifest_json.size()).status());
  TRAIN_RETURN_IF_ERROR(files.SyncDir(temp_dir));
  const std::string final_dir = dir + "/" + StepDirName(step);
  TRAIN_RETURN_IF_ERROR(files.Rename(temp_dir, final_dir));
  TRAIN_RETURN_IF_ERROR(files.SyncDir(dir));
  // `latest` is a convenience for people and tools; loading scans the directories, so a crash
  // between the rename above and this one loses nothing.
  return PointLatest(files, dir, temp_dir + ".latest", step);
}

Result<std::string> QuarantineStep(const FileLayer& files, const std::string& dir,
                                   std::int64_t step, const std::string& reason) {
  const std::string from = dir + "/" + StepDirName(step);
  const std::string base = StepDirName(step) + kCorruptInfix + CompactUtcNow();
  std::string name = base;
  for (int attempt = 2;; ++attempt) {
    const Status renamed = files.RenameNoReplace(from, dir + "/" + name);
    if (renamed.ok()) break;
    if (renamed.code() != StatusCode::kAlreadyExists || attempt > 1000) return renamed;
    name = base + "-" + std::to_string(attempt);
  }
  TRAIN_RETURN_IF_ERROR(files.SyncDir(dir));
  // The note and `latest` are for people: the quarantine itself is the rename above. Each
  // rank's reason on a line of its own first (`trainctl ckpt ls` shows the first), then when.
  const std::string note = reason + "\n(step " + std::to_string(step) +
                           " failed verification when loading; quarantined at " + UtcNowIso8601() +
                           ")\n";
  static_cast<void>(
      files.WriteFile(dir + "/" + name + "/" + kQuarantineNote, note.data(), note.size()));
  TRAIN_ASSIGN_OR_RETURN(std::vector<std::int64_t> left, CommittedSteps(files, dir));
  const std::string temp = dir + "/" + TempDirName(step, "quarantine") + ".latest";
  static_cast<void>(files.RemoveAll(temp));
  if (left.empty()) {
    TRAIN_RETURN_IF_ERROR(files.RemoveAll(dir + "/" + kLatestName));
  } else {
    TRAIN_RETURN_IF_ERROR(PointLatest(files, dir, temp, left.front()));
  }
  return name;
}

Result<std::vector<QuarantinedDir>> QuarantinedDirs(const FileLayer& files,
                                                    const std::string& dir) {
  TRAIN_ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ListCheckpointDir(files, dir));
  std::vector<QuarantinedDir> found;
  for (const DirEntry& entry : entries) {
    const std::string& name = entry.name;
    const std::size_t infix = name.find(kCorruptInfix);
    if (infix == std::string::npos) continue;
    const std::int64_t step = StepFromDirName(name.substr(0, infix));
    if (step >= 0) found.push_back({step, name});
  }
  std::sort(found.begin(), found.end(), [](const QuarantinedDir& a, const QuarantinedDir& b) {
    return std::tie(a.step, a.name) > std::tie(b.step, b.name);
  });
  return found;
}

Status ApplyRetention(const FileLayer& files, const std::string& dir, std::int64_t newest,
                      const CheckpointOptions& options) {
  TRAIN_ASSIGN_OR_RETURN(std::vector<std::int64_t> steps, CommittedSteps(files, dir));
  const int keep_last = std::max(options.keep_last, 1);
  int kept = 0;
  for (std::int64_t step : steps) {
    if (step > newest) continue;  // not ours to judge
    const bool recent = kept < keep_last;
    if (recent) ++kept;
    if (recent || (options.keep_every > 0 && step % options.keep_every == 0)) continue;
    const std::string doomed = dir + "/" + TempDirName(step, "deleted");
    TRAIN_RETURN_IF_ERROR(files.Rename(dir + "/" + StepDirName(step), doomed));
    TRAIN_RETURN_IF_ERROR(files.RemoveAll(doomed));
  }
  return files.SyncDir(dir);
}

}  // namespace train::internal
