// Runs the data commands as a process, as a user would.
#ifndef TRAINCTL_TESTS_INTEGRATION_DATATOOLS_COMMAND_H_
#define TRAINCTL_TESTS_INTEGRATION_DATATOOLS_COMMAND_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace trainctl::data::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline CommandResult RunShell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// `trainctl data ARGS`.
inline CommandResult Data(const std::string& args) {
  return RunShell(std::string(TRAINCTL_BINARY) + " data " + args);
}

}  // namespace trainctl::data::testing

#endif  // TRAINCTL_TESTS_INTEGRATION_DATATOOLS_COMMAND_H_
