// The trainctl subcommands. Each returns the process exit code (see exit_codes.h); main.cc
// only parses the command line and dispatches here, so these stay free of CLI11.
#ifndef TRAINCTL_CLI_COMMANDS_H_
#define TRAINCTL_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace trainctl::cli {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // invalid spec, failed check
inline constexpr int kExitUsage = 2;    // bad flags or arguments

// Validates each file; prints every error as file:line:col: path: message.
int RunValidate(const std::vector<std::string>& files, bool quiet);

// Prints the documentation of a field path ("" for the whole TrainingJob).
int RunExplain(const std::string& path);

// Prints the job in `file` with every default filled in, as YAML.
int RunDefaults(const std::string& file);

// Prints trainctl's and libtrain's versions and what this build can use.
int RunVersion();

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_COMMANDS_H_
