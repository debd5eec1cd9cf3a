// Turning a JOB.yaml (or the quick form's flags) into the validated job an agent runs.
#ifndef TRAINCTL_CLI_JOB_SETUP_H_
#define TRAINCTL_CLI_JOB_SETUP_H_

#include <csignal>
#include <functional>
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

// Creates the run directory: flags.run_dir, or runs/<job>/<yyyymmdd-hhmmss> in the current
// directory. Returns its absolute path.
train::Result<std::string> MakeRunDir(const std::string& requested, const std::string& job_name);

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
