// trainctl ckpt ls|verify|inspect: look at a job's checkpoints without running the job.
// Each Run* returns the exit code: 0 success, 1 a checkpoint failed to verify or could not be
// read, 2 usage (a path that does not exist, or is not what the command takes).
#ifndef TRAINCTL_CLI_CKPT_COMMAND_H_
#define TRAINCTL_CLI_CKPT_COMMAND_H_

#include <string>

#include "commands.h"

namespace trainctl::cli {

struct CkptListFlags {
  std::string dir;    // the checkpoint directory (spec.checkpoint.dir)
  bool json = false;  // --json
};

struct CkptVerifyFlags {
  std::string path;  // DIR (every checkpoint) or DIR/step-N (one)
  bool quiet = false;
};

struct CkptInspectFlags {
  std::string step_dir;  // DIR/step-N
  bool json = false;
};

// ckpt ls|verify|inspect.
CommandRunner AddCkptCommands(CLI::App* app);

int RunCkptList(const CkptListFlags& flags);
int RunCkptVerify(const CkptVerifyFlags& flags);
int RunCkptInspect(const CkptInspectFlags& flags);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_CKPT_COMMAND_H_
