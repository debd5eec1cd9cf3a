#include "memory_dir.h"

#include <filesystem>
#include <system_error>

namespace trainctl::agent {
namespace fs = std::filesystem;
namespace {

fs::path Root() {
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec)) return "/dev/shm";
  fs::path temp = fs::temp_directory_path(ec);
  return ec ? fs::path("/tmp") : temp;
}

std::string Prefix(pid_t launcher) { return "trainctl-" + std::to_string(launcher) + "-memory-"; }

}  // namespace

std::string MemorySnapshotDir(pid_t launcher, int agent) {
  return (Root() / (Prefix(launcher) + std::to_string(agent))).string();
}

void RemoveMemorySnapshotDirs(pid_t launcher) {
  const std::string prefix = Prefix(launcher);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(Root(), ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace trainctl::agent
