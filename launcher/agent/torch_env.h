// What torchrun sets for its workers beyond the rank variables, set the same way under trainctl
// so that PyTorch scripts (and their @record error handling) behave as they do under torchrun.
// docs/env.md, "What torchrun sets besides", lists each.
#ifndef TRAINCTL_AGENT_TORCH_ENV_H_
#define TRAINCTL_AGENT_TORCH_ENV_H_

#include <string>

#include "terminal.h"
#include "worker_group.h"

namespace trainctl::agent {

struct TorchrunWorker {
  int world_size = 1;
  int local_world_size = 1;  // workers on this node
  int max_restarts = 0;      // spec.failurePolicy.maxRestarts
};

// Adds to `spec->env`, keeping any the user set (inherited or in spec.env):
//   PYTHONUNBUFFERED=1 for a Python worker (its output reaches the log as it is printed, also
//     when it is killed), OMP_NUM_THREADS=1 with more than one worker per node (said once on
//     `terminal`, as torchrun warns), TORCHELASTIC_ERROR_FILE (ErrorFileBeside its log,
//     removed first so that a file left by an earlier start is never read as this one's),
//   and always TORCHELASTIC_MAX_RESTARTS, TORCHELASTIC_USE_AGENT_STORE=False (torch's own store
//   is rank 0's TCPStore at MASTER_PORT, not the agent's), ROLE_NAME ("default"), ROLE_RANK,
//   ROLE_WORLD_SIZE (one role: the rank and the world size), NCCL_ASYNC_ERROR_HANDLING=1.
void AddTorchrunVariables(const TorchrunWorker& worker, WorkerSpec* spec, Terminal* terminal);

// Whether `argv` runs Python: python, python3, python3.11 (any directory), or a .py file.
bool RunsPython(const std::vector<std::string>& argv);

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_TORCH_ENV_H_
