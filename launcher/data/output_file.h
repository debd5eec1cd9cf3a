// An output file that appears whole or not at all.
//
// The data is written to a temporary file beside the target (same directory, so the final
// rename stays on one filesystem and is atomic); Commit() syncs it and renames it into place.
// Destroyed without Commit(), the temporary file is removed: a failed import leaves nothing.
// A process killed outright (SIGKILL) cannot remove it: the next Prepare() of the same target
// removes the temporary files of that target whose process is gone.
#ifndef TRAINCTL_DATA_OUTPUT_FILE_H_
#define TRAINCTL_DATA_OUTPUT_FILE_H_

#include <string>

#include "train/status.h"

namespace trainctl::data {

class AtomicOutput {
 public:
  // Checks that `path` can be written: its directory exists, it is not a directory, and it
  // does not exist unless `overwrite` (kAlreadyExists, naming --force, otherwise). Removes the
  // stale temporary files of `path` left by processes that no longer run.
  static train::Result<AtomicOutput> Prepare(const std::string& path, bool overwrite);

  AtomicOutput(AtomicOutput&& other) noexcept;
  AtomicOutput& operator=(AtomicOutput&&) = delete;
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  ~AtomicOutput();

  const std::string& path() const { return path_; }
  // Where to write: ".NAME.tmp-PID-K" in the target's directory.
  const std::string& temp_path() const { return temp_path_; }

  // Syncs the temporary file, renames it to path() (refusing to replace a file that appeared
  // meanwhile unless overwriting) and syncs the directory.
  train::Status Commit();

 private:
  AtomicOutput(std::string path, std::string temp_path, bool overwrite)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), overwrite_(overwrite) {}

  std::string path_;
  std::string temp_path_;
  bool overwrite_ = false;
  bool done_ = false;  // committed, or moved from: nothing to clean up
};

// For a signal handler (async-signal-safe): removes the temporary file of the output being
// written now, if any, so that a process about to die of a signal leaves nothing behind.
void RemoveTempFileForSignal();

}  // namespace trainctl::data

#endif  // TRAINCTL_DATA_OUTPUT_FILE_H_
