// The directory protocol: where a checkpoint is written, how it becomes visible in one rename,
// and which committed checkpoints retention removes.
//
//   <dir>/.step-<N>.tmp-<id>/   being written (or left by a crash: removed by the next Open)
//   <dir>/step-<N>/             committed: complete, every file fsynced before the rename
//   <dir>/latest                "step-<N>": the newest committed, replaced by rename
//   <dir>/step-<N>.corrupt-<UTC>/  quarantined: failed verification when loading; kept
#ifndef TRAIN_CHECKPOINT_COMMIT_H_
#define TRAIN_CHECKPOINT_COMMIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "file_layer.h"
#include "train/checkpoint.h"
#include "train/status.h"

namespace train::internal {

std::string StepDirName(std::int64_t step);
std::string TempDirName(std::int64_t step, const std::string& id);
// The step of a committed directory's name ("step-12" -> 12); -1 for any other name.
std::int64_t StepFromDirName(const std::string& name);

// Steps of the committed directories of `dir`, newest first (none when `dir` is missing).
Result<std::vector<std::int64_t>> CommittedSteps(const FileLayer& files, const std::string& dir);

// Removes the temporary directories that crashed or failed saves left in `dir`.
Status RemoveTemporaryDirs(const FileLayer& files, const std::string& dir);

// Writes the manifest into `temp_dir` and fsyncs it and the directory, renames the directory to
// step-<N>, fsyncs `dir`, then points `latest` at it. Before the rename nothing is visible;
// after it the checkpoint is complete.
Status CommitStep(const FileLayer& files, const std::string& dir, const std::string& temp_dir,
                  std::int64_t step, const std::string& manifest_json);

// A committed step that failed verification, renamed aside by QuarantineStep.
struct QuarantinedDir {
  std::int64_t step = 0;
  std::string name;  // "step-60.corrupt-20240501T120000Z"
};

// Renames committed step `step` to step-<N>.corrupt-<UTC time> in `dir` (a suffix -2, -3, ...
// when that exists; never over anything), writes `reason` into it as QUARANTINE.txt, and points
// `latest` at the newest committed step left (removes it when none is). Nothing is deleted.
// Returns the new name. Rank 0 only.
Result<std::string> QuarantineStep(const FileLayer& files, const std::string& dir,
                                   std::int64_t step, const std::string& reason);

// The quarantined directories of `dir`, newest step first (none when `dir` is missing).
Result<std::vector<QuarantinedDir>> QuarantinedDirs(const FileLayer& files, const std::string& dir);

inline constexpr char kQuarantineNote[] = "QUARANTINE.txt";

// Deletes committed checkpoints older than `newest` that the options do not keep. A directory
// is renamed to a temporary name before its files go, so a crash never leaves a committed
// directory with files missing. Quarantined directories are neither counted nor deleted.
Status ApplyRetention(const FileLayer& files, const std::string& dir, std::int64_t newest,
                      const CheckpointOptions& options);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_COMMIT_H_
