// Runs kubectl (or any program) with an argv, never through a shell.
#ifndef TRAINCTL_K8S_COMMAND_RUNNER_H_
#define TRAINCTL_K8S_COMMAND_RUNNER_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace trainctl::k8s {

struct CommandOutput {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs argv[0] (found on PATH) with `input` on its standard input and both outputs captured.
// NOT_FOUND when the program is not on PATH.
train::Result<CommandOutput> RunCapture(const std::vector<std::string>& argv,
                                        const std::string& input = "");

// Runs argv[0] with its standard error passed through and each line of its standard output
// (without the newline) given to `on_line`. Returns the exit code; NOT_FOUND as above.
train::Result<int> RunLines(const std::vector<std::string>& argv,
                            const std::function<void(std::string_view line)>& on_line);

}  // namespace trainctl::k8s

#endif  // TRAINCTL_K8S_COMMAND_RUNNER_H_
