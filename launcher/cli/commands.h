// The trainctl commands. Each group registers its subcommands and flags on the root CLI::App
// and returns a CommandRunner; main.cc parses once and asks each runner in turn. The Run*
// functions behind them take plain flag structs, so tests call them without CLI11.
#ifndef TRAINCTL_CLI_COMMANDS_H_
#define TRAINCTL_CLI_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace trainctl::cli {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // invalid spec, failed check
inline constexpr int kExitUsage = 2;    // bad flags or arguments

// Called after parsing: runs the group's command that was given and returns its exit code, or
// nullopt when the command given belongs to another group.
using CommandRunner = std::function<std::optional<int>()>;

// validate, explain, defaults (spec_commands.cc).
CommandRunner AddSpecCommands(CLI::App* app);

// version (version_command.cc).
CommandRunner AddVersionCommand(CLI::App* app);

// data plan, data import idx|csv, data inspect (data_flags.cc).
CommandRunner AddDataCommands(CLI::App* app);

// Validates each file; prints every error as file:line:col: path: message.
int RunValidate(const std::vector<std::string>& files, bool quiet);

// Prints the documentation of a field path ("" for the whole TrainingJob).
int RunExplain(const std::string& path);

// Prints the job in `file` with every default filled in, as YAML.
int RunDefaults(const std::string& file);

// Prints trainctl's and libtrain's versions and what this build can use.
int RunVersion();

// `trainctl data plan`: the samples one rank consumes from a cursor to the end of an epoch.
struct PlanFlags {
  std::uint64_t samples = 0;
  int world = 1;
  int rank = 0;
  std::uint64_t epoch = 0;
  std::uint64_t seed = 0;
  std::uint64_t cursor = 0;
  bool drop_last = false;
  bool pad = false;
  bool no_shuffle = false;
};
int RunDataPlan(const PlanFlags& flags);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_COMMANDS_H_
