// Running `trainctl run` the way a torchrun user does: Python scripts written to a scratch
// directory, run by /usr/bin/python3, in a clean environment (no PYTHONUNBUFFERED,
// VIRTUAL_ENV, TRAINCTL_PYTHON or OMP_NUM_THREADS from the caller).
#ifndef TRAIN_TESTS_INTEGRATION_TORCHRUN_HARNESS_H_
#define TRAIN_TESTS_INTEGRATION_TORCHRUN_HARNESS_H_

#include <map>
#include <string>
#include <vector>

#include "launcher_harness.h"

namespace torchrun_test {

using launcher_test::Process;
using launcher_test::ScratchDir;

// Whether /usr/bin/python3 exists, and whether it imports torch.distributed.
bool HavePython();
bool HaveTorch();

// Writes `text` to dir/name (mode 0755 when `executable`); returns the path.
std::string WriteFile(const ScratchDir& dir, const std::string& name, const std::string& text,
                      bool executable = false);

// A script that prints EXE=sys.executable, ARGS=argv[1:] and every variable as NAME=value.
std::string WritePrintEnv(const ScratchDir& dir, const std::string& name = "print_env.py");

// `trainctl run ARGS...` under /usr/bin/env with the caller's Python variables removed and
// `env` added: the argv for a Process.
std::vector<std::string> TrainctlRun(const std::vector<std::string>& args,
                                     const std::map<std::string, std::string>& env = {});

// NAME=value lines `rank` printed (after its "[rank N] " prefix).
std::map<std::string, std::string> EnvOfRank(const std::string& output, int rank);

}  // namespace torchrun_test

#endif  // TRAIN_TESTS_INTEGRATION_TORCHRUN_HARNESS_H_
