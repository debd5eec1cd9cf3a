// cgroup v2 directories for a job's processes: everything a worker forks stays in its cgroup,
// whatever session or process group it moves to, so killing the cgroup kills all of it.
#ifndef TRAINCTL_AGENT_JOB_CGROUP_H_
#define TRAINCTL_AGENT_JOB_CGROUP_H_

#include <chrono>
#include <string>

#include "process_fd.h"
#include "train/internal/os_env.h"
#include "train/status.h"

namespace trainctl::agent::process_internal {

// The cgroup v2 directory this process runs in (from /proc/self/mountinfo and /proc/self/cgroup),
// e.g. "/sys/fs/cgroup/user.slice/x.scope"; an error when there is no cgroup v2 hierarchy.
train::Result<std::string> OwnCgroupDir();

// Creates `parent`/`name` and checks that processes can be moved into it (write access to its
// cgroup.procs and to the parent's, which is the common ancestor of a move). An error says why
// not; nothing is left behind then.
train::Result<std::string> CreateCgroup(const std::string& parent, const std::string& name);

// Opens the cgroup directory `dir` (close-on-exec): a child is cloned into it, or joins it by
// writing "0" to cgroup.procs below it.
train::Result<UniqueFd> OpenCgroupDir(const std::string& dir);

// SIGKILLs every process in `dir` and in the cgroups below it: through cgroup.kill (Linux 5.14),
// else by reading cgroup.procs until it stays empty.
void KillCgroup(const std::string& dir,
                train::internal::OsEnv* env = train::internal::OsEnv::Default());

// How long cleanup waits for SIGKILLed processes to leave a cgroup before it leaves the cgroup
// for the job's watchdog.
inline constexpr std::chrono::milliseconds kCgroupEmptyWait{2000};

// Waits until no process is left in `dir` (exited ones are out even before they are reaped),
// up to `timeout`. Returns whether it emptied.
bool WaitCgroupEmpty(const std::string& dir, std::chrono::milliseconds timeout);

// Removes `dir` and the cgroups below it, deepest first; ENOENT is fine. Returns false when one
// could not be removed (it still holds processes).
bool RemoveCgroup(const std::string& dir);

}  // namespace trainctl::agent::process_internal

#endif  // TRAINCTL_AGENT_JOB_CGROUP_H_
