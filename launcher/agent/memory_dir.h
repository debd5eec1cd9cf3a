// Where an agent keeps its workers' in-memory snapshots (spec.checkpoint.memory): a directory
// in RAM that outlives the workers' restarts but not the agent, like a node's memory. The agent
// removes its own at its end; the job watchdog removes every one of its launcher's when the
// launcher is killed.
#ifndef TRAINCTL_AGENT_MEMORY_DIR_H_
#define TRAINCTL_AGENT_MEMORY_DIR_H_

#include <sys/types.h>

#include <string>

namespace trainctl::agent {

// <root>/trainctl-<launcher>-memory-<agent>, root /dev/shm (else the temporary directory);
// `agent` tells apart the agents of one launcher (trainctl run of several local nodes).
std::string MemorySnapshotDir(pid_t launcher, int agent);

// Removes every directory MemorySnapshotDir gives for `launcher`.
void RemoveMemorySnapshotDirs(pid_t launcher);

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_MEMORY_DIR_H_
