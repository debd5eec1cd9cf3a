#include "torch_env.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <filesystem>

#include "failure_report.h"

namespace trainctl::agent {
namespace {

// Sets `name` unless the worker's environment already has it.
void Default(WorkerSpec* spec, const std::string& name, const std::string& value) {
  spec->env.emplace(name, value);
}

bool IsPythonName(const std::string& name) {
  if (name.rfind("python", 0) != 0) return false;
  for (char c : name.substr(6)) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return true;
}

}  // namespace

bool RunsPython(const std::vector<std::string>& argv) {
  if (argv.empty()) return false;
  const std::string& program = argv.front();
  return IsPythonName(std::filesystem::path(program).filename().string()) ||
         (program.size() > 3 && program.compare(program.size() - 3, 3, ".py") == 0);
}

void AddTorchrunVariables(const TorchrunWorker& worker, WorkerSpec* spec, Terminal* terminal) {
  if (RunsPython(spec->argv)) Default(spec, "PYTHONUNBUFFERED", "1");
  if (worker.local_world_size > 1 && spec->env.count("OMP_NUM_THREADS") == 0) {
    spec->env["OMP_NUM_THREADS"] = "1";
    // Once per process, as torchrun warns once per launch.
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true) && terminal != nullptr) {
      terminal->WriteLine(
          "trainctl: setting OMP_NUM_THREADS=1 for each worker (" +
          std::to_string(worker.local_world_size) +
          " per node), to avoid your system being overloaded; set OMP_NUM_THREADS (spec.env or "
          "the environment) to tune it for your application");
    }
  }
  if (!spec->log_path.empty()) {
    const std::string error_file = ErrorFileBeside(spec->log_path);
    (void)::unlink(error_file.c_str());
    spec->env["TORCHELASTIC_ERROR_FILE"] = error_file;
  }
  spec->env["TORCHELASTIC_MAX_RESTARTS"] = std::to_string(worker.max_restarts);
  spec->env["TORCHELASTIC_USE_AGENT_STORE"] = "False";
  Default(spec, "ROLE_NAME", "default");
  spec->env["ROLE_RANK"] = std::to_string(spec->rank);
  spec->env["ROLE_WORLD_SIZE"] = std::to_string(worker.world_size);
  Default(spec, "NCCL_ASYNC_ERROR_HANDLING", "1");
}

}  // namespace trainctl::agent
