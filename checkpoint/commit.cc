#include "commit.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "manifest.h"

namespace train::internal {
namespace {

namespace fs = std::filesystem;

constexpr char kStepPrefix[] = "step-";
constexpr char kLatestName[] = "latest";

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

Result<std::vector<std::int64_t>> CommittedSteps(const std::string& dir) {
  std::vector<std::int64_t> steps;
  std::error_code error;
  fs::directory_iterator it(dir, error);
  if (error == std::errc::no_such_file_or_directory) return steps;
  if (error) return ErrnoStatus(error.value(), "cannot list checkpoint directory", dir);
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) return ErrnoStatus(error.value(), "cannot list checkpoint directory", dir);
    const std::int64_t step = StepFromDirName(it->path().filename().string());
    if (step >= 0 && it->is_directory(error)) steps.push_back(step);
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}

Status RemoveTemporaryDirs(const FileLayer& files, const std::string& dir) {
  std::error_code error;
  std::vector<std::string> leftovers;
  for (fs::directory_iterator it(dir, error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(".step-", 0) == 0 && name.find(".tmp-") != std::string::npos) {
      leftovers.push_back(it->path().string());
    }
  }
  if (error) return ErrnoStatus(error.value(), "cannot list checkpoint directory", dir);
  for (const std::string& path : leftovers) TRAIN_RETURN_IF_ERROR(files.RemoveAll(path));
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
  const std::string latest_temp = temp_dir + ".latest";
  const std::string pointer = StepDirName(step) + "\n";
  TRAIN_RETURN_IF_ERROR(files.WriteFile(latest_temp, pointer.data(), pointer.size()).status());
  TRAIN_RETURN_IF_ERROR(files.Rename(latest_temp, dir + "/" + kLatestName));
  return files.SyncDir(dir);
}

Status ApplyRetention(const FileLayer& files, const std::string& dir, std::int64_t newest,
                      const CheckpointOptions& options) {
  TRAIN_ASSIGN_OR_RETURN(std::vector<std::int64_t> steps, CommittedSteps(dir));
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
