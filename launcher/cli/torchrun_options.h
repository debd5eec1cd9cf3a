// The command-line side of torchrun_flags.h: torchrun's spellings registered with CLI11 on
// `trainctl run` and `trainctl agent`, the training script split off before parsing, and a
// usage line that shows every form (JOB.yaml, script, -m module, -- command).
#ifndef TRAINCTL_CLI_TORCHRUN_OPTIONS_H_
#define TRAINCTL_CLI_TORCHRUN_OPTIONS_H_

#include <string>
#include <vector>

#include "torchrun_flags.h"

namespace CLI {
class App;
}

namespace trainctl::cli {

// Registers on `command` (run, or agent when `agent`) the options that only torchrun users
// pass, bound to `flags`: --nproc and its spellings, --standalone, --no-python, -m, --python,
// --rdzv-endpoint, --rdzv-id, --master-addr/--master-port, --local-addr, --role,
// --monitor-interval, --start-method, --redirects, --tee, --log-dir (and --node-rank on run).
void AddTorchrunOptions(CLI::App* command, bool agent, TorchrunFlags* flags);

// Shows the forms `trainctl run|agent` takes in the usage line of its --help.
void SetLaunchUsage(CLI::App* command);

// When `args` (argv) runs `run` or `agent` with a training script (foo.py, -m MODULE, or any
// program after the flags, as torchrun takes it), moves the script and its arguments to
// `command`. Without one it splits off the command after "--", as before.
void SplitCommand(CLI::App* run, CLI::App* agent, std::vector<char*>* args,
                  std::vector<std::string>* command);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_TORCHRUN_OPTIONS_H_
