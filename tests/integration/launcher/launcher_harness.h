// Runs trainctl as a real process for the launcher tests: output captured to a file, exit code
// and signals observable, and a scratch directory per test.
#ifndef TRAIN_TESTS_INTEGRATION_LAUNCHER_HARNESS_H_
#define TRAIN_TESTS_INTEGRATION_LAUNCHER_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "../../scratch_dir.h"

namespace launcher_test {

namespace fs = std::filesystem;

using ::train::testing::ScratchDir;

// trainctl (or any program) running in the background.
class Process {
 public:
  // Starts `argv`; stdout and stderr go to `output_file`.
  Process(std::vector<std::string> argv, std::string output_file);
  ~Process();  // SIGKILLs it if still running

  pid_t pid() const { return pid_; }
  // The exit code (128+signal when killed), or nullopt when it is still running at `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  void Signal(int signal);
  std::string Output() const;
  // Waits until the output contains `text`; false on timeout.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds timeout) const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string output_file_;
};

// Writes a job spec with fast timings (heartbeat 100ms, timeout 800ms) running `command`.
std::string WriteJob(const ScratchDir& dir, const std::string& name,
                     const std::vector<std::string>& command, const std::string& extra_spec);

// Paths of the binaries under test (set by CMake).
std::string Trainctl();
std::string TestWorker();

// A TCP port on loopback that nothing listens on right now.
int FreePort();

// Writes the job's token to dir/name, mode 0600; returns its path.
std::string WriteToken(const ScratchDir& dir, const std::string& name, const std::string& token);

// `trainctl agent` for node `node` of `job`, meeting at a store on 127.0.0.1:port (hosted by
// this agent when `host_store`).
std::vector<std::string> AgentArgs(const std::string& job, int port, const std::string& token,
                                   int node, const std::string& run_dir, bool host_store);

// Whether `pid` is still alive (and not a zombie).
bool Alive(pid_t pid);

// Waits until `count` files named rank-*.pid exist in `dir`; returns the pids.
std::vector<pid_t> WaitForPids(const fs::path& dir, int count, std::chrono::milliseconds timeout);

}  // namespace launcher_test

#endif  // TRAIN_TESTS_INTEGRATION_LAUNCHER_HARNESS_H_
