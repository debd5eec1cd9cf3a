// Runs an example end to end as a user would (a shell command line), capturing its output.
#ifndef TESTS_INTEGRATION_EXAMPLES_EXAMPLE_PROCESS_H_
#define TESTS_INTEGRATION_EXAMPLES_EXAMPLE_PROCESS_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "../../scratch_dir.h"

namespace examples_test {

struct Ran {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

using ::train::testing::ScratchDir;

// `command` under `timeout` (coreutils' timeout sends SIGTERM, then SIGKILL), from the repository
// root (the tests' working directory).
inline Ran RunShell(const std::string& command, const std::filesystem::path& out_file,
                    int timeout_s = 120) {
  const std::string line = "timeout -k 5 " + std::to_string(timeout_s) + " " + command + " >'" +
                           out_file.string() + "' 2>&1";
  const int status = std::system(line.c_str());
  Ran ran;
  ran.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(out_file);
  std::stringstream text;
  text << in.rdbuf();
  ran.output = text.str();
  return ran;
}

// "rank N" -> value of every line "[rank N] final NAME=value" of a trainctl run's output.
inline std::map<int, std::string> FinalValues(const std::string& output, const std::string& name) {
  std::map<int, std::string> values;
  const std::regex line("\\[rank (\\d+)\\] final " + name + "=(\\S+)");
  for (std::sregex_iterator it(output.begin(), output.end(), line), end; it != end; ++it) {
    values[std::stoi((*it)[1])] = (*it)[2];
  }
  return values;
}

}  // namespace examples_test

#endif  // TESTS_INTEGRATION_EXAMPLES_EXAMPLE_PROCESS_H_
