// Starting one worker process: fork, set the child up, exec; and reaping it.
#ifndef TRAINCTL_AGENT_PROCESS_SPAWN_H_
#define TRAINCTL_AGENT_PROCESS_SPAWN_H_

#include <sys/types.h>

#include <string_view>

#include "process_fd.h"
#include "train/status.h"
#include "worker_group.h"

namespace trainctl::agent::process_internal {

// Searched for a program without '/' when the worker's environment has no PATH.
inline constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

struct SpawnedProcess {
  pid_t pid = -1;
  UniqueFd output;         // read end of the pipe that is the child's stdout and stderr
  bool in_cgroup = false;  // it joined the cgroup it was given
};

// Forks and execs `spec`. With `cgroup_fd` (a cgroup directory, >= 0) the child starts in that
// cgroup (clone3 CLONE_INTO_CGROUP) or, where the kernel cannot, joins it first thing (failing
// that it goes on, and in_cgroup says so). It leads its own session (setsid), gets SIGKILL when
// the calling thread exits (PR_SET_PDEATHSIG: the caller must be a thread that outlives the
// child), starts
// with default signal dispositions and an empty mask, reads /dev/null (`stdin_fd`), writes
// stdout and stderr to one pipe (so their relative order is kept), and holds no other
// descriptor. Returns once the exec succeeded; a failed exec (or chdir) is an error that names
// the program (or directory) and the reason, and the child has been reaped.
//
// Safe to call from a multi-threaded process: the child only makes async-signal-safe calls.
// Call it with every signal blocked in the calling thread, so that no handler of the parent
// runs in the child before the dispositions are reset.
// The child is registered as this process's own (process_tree.h) and its pid is reported to the
// job watchdog, if one runs, before it can exec.
train::Result<SpawnedProcess> SpawnWorker(const WorkerSpec& spec, int stdin_fd, int cgroup_fd = -1);

// Kills `pid`'s process group with SIGKILL and reaps `pid` (for a worker abandoned because
// another could not start).
void KillAndReap(pid_t pid);

// How a reaped child ended, from waitpid's status.
WorkerExit ExitFromWaitStatus(int status);

}  // namespace trainctl::agent::process_internal

#endif  // TRAINCTL_AGENT_PROCESS_SPAWN_H_
