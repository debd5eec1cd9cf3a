// trainctl render, submit, status, logs and delete: a TrainingJob on Kubernetes.
#ifndef TRAINCTL_CLI_K8S_COMMANDS_H_
#define TRAINCTL_CLI_K8S_COMMANDS_H_

#include <functional>
#include <optional>

namespace CLI {
class App;
}

namespace trainctl::cli {

// Adds the Kubernetes subcommands to `app`. After parsing, call the returned function: it runs
// the Kubernetes command that was given and returns its exit code, or nullopt for another one.
std::function<std::optional<int>()> AddKubernetesCommands(CLI::App* app);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_K8S_COMMANDS_H_
