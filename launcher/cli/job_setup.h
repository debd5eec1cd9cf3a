// Turning a JOB.yaml (or the quick form's flags) into the validated job an agent runs.
#ifndef TRAINCTL_CLI_JOB_SETUP_H_
#define TRAINCTL_CLI_JOB_SETUP_H_

#include <csignal>
#include <functional>
#include <memory>
#include <string>

#include "launch_commands.h"
#include "launcher/spec/trainingjob.pb.h"
#include "train/status.h"

namespace trainctl::cli {

struct PreparedJob {
  trainctl::v1alpha1::TrainingJob job;  // flags applied, defaults filled, validated
  std::string working_dir;              // absolute
};

// Loads the job file (or builds the quick form's job), applies the flags, validates. Errors
// are printed by the caller as they are (they already name the file, line and field).
train::Result<PreparedJob> PrepareJob(const JobFlags& flags);

// The run directory of one launch (logs, the token, metrics), held for the launch's lifetime
// with an flock on RUN_DIR/.lock that names the holder. The lock goes with the process, so a
// crashed launch never leaves a directory locked.
class RunDir {
 public:
  // `requested` empty: a new directory runs/<job>/<yyyymmdd-hhmmss> in the current directory
  // (-2, -3, ... when it exists: made with mkdir, which fails when another launch made it
  // first, so two launches never share one). Otherwise `requested` (--run-dir), created when
  // absent, and refused while another live launch holds it, naming its pid; the agents that
  // one `trainctl run` starts share its directory by passing its `launch_id`.
  // `launch_id` empty: a new one, "<directory name>-<pid>".
  static train::Result<std::unique_ptr<RunDir>> Claim(const std::string& requested,
                                                      const std::string& job_name,
                                                      const std::string& launch_id = "");
  ~RunDir();  // releases the lock; the directory stays
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::string& path() const { return path_; }            // absolute
  const std::string& launch_id() const { return launch_id_; }  // the workers' TRAIN_LAUNCH_ID

 private:
  RunDir() = default;
  std::string path_;
  std::string launch_id_;
  int lock_fd_ = -1;  // -1: shared with the launch that holds the lock
};

// The name of the lock file in a run directory.
inline constexpr char kRunDirLockName[] = ".lock";

// Writes `token` to `path`, readable by the owner only.
train::Status WriteTokenFile(const std::string& path, const std::string& token);

// Blocks SIGINT and SIGTERM in the calling thread and so in every thread it starts later.
// Call it first thing, before any thread exists (store clients and servers start threads): a
// thread that does not block them would be killed by them instead of SignalWatcher seeing them.
void BlockStopSignals();

// Handles SIGINT and SIGTERM (blocked with BlockStopSignals) on a thread of its own:
// `on_signal(signal, count)` runs for each, count 1 for the first. Signals that arrived before
// it existed are handled as soon as it starts.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int signal, int count)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_JOB_SETUP_H_
