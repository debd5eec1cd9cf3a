// trainctl render, submit, status, logs and delete: a TrainingJob on Kubernetes.
#ifndef TRAINCTL_CLI_K8S_COMMANDS_H_
#define TRAINCTL_CLI_K8S_COMMANDS_H_

#include "commands.h"

namespace trainctl::cli {

// render, submit, status, logs, delete.
CommandRunner AddKubernetesCommands(CLI::App* app);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_K8S_COMMANDS_H_
