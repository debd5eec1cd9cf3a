// The one reader of environ (docs/env.md).
#include "train/internal/process_environment.h"

#include <unistd.h>  // environ

#include <string_view>

namespace train::internal {

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> vars;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view line(*entry);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    vars.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return vars;
}

}  // namespace train::internal
