// What the launcher knows about the processes of its job beyond its own workers: the job's scope
// (cgroup, watchdog), the children it reaps itself, and the /proc scans that find a worker's
// descendants when there is no cgroup.
#ifndef TRAINCTL_AGENT_PROCESS_TREE_H_
#define TRAINCTL_AGENT_PROCESS_TREE_H_

#include <sys/types.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "train/internal/os_env.h"

namespace trainctl::agent::process_internal {

// Where the job's processes are tracked, for every worker group of this process. Set by
// JobWatchdog::Start (job_watchdog.h); empty when no watchdog runs (workers are then tracked by
// session while this process lives, and only PR_SET_PDEATHSIG covers its death).
struct JobScope {
  std::string cgroup_dir;  // the job's cgroup; each worker gets one below it ("": none)
  int watchdog_fd = -1;    // write end of the watchdog's pipe: worker pids go there
  bool subreaper = false;  // orphans of the job are re-parented to this process
};
JobScope CurrentJobScope();
void SetJobScope(JobScope scope);

// Tells the watchdog that `pid` leads a session of the job (pid > 0), or that the session of
// `-pid` was cleaned up and may no longer be killed (pid < 0). Does nothing without a watchdog.
void ReportSession(pid_t pid);

// Children this process forks and reaps itself (workers, the watchdog): the orphan reaper leaves
// them alone. Hold the lock from fork() until Register, so the child cannot be reaped as an
// orphan in between.
std::unique_lock<std::mutex> LockOwnChildren();
void RegisterOwnChildLocked(pid_t pid);
void UnregisterOwnChild(pid_t pid);

struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  char state = '?';                   // 'Z' for a zombie
  unsigned long long start_time = 0;  // clock ticks after boot: tells a reused pid apart
};
// Every process /proc shows (those that vanish while it is read are left out).
std::vector<ProcessInfo> ScanProcesses();
// One process; false when it is gone.
bool ReadProcess(pid_t pid, ProcessInfo* info);

// The live processes of `processes` whose session or process group is in `sessions`, those in
// `roots`, and their descendants; never this process nor its ancestors.
std::vector<pid_t> JobProcesses(const std::vector<ProcessInfo>& processes,
                                const std::set<pid_t>& sessions, const std::set<pid_t>& roots);

// SIGKILLs every process whose session or process group is in `sessions`, every process in
// `roots`, and every descendant of those, scanning again until a scan finds none (bounded).
// Never this process nor its ancestors. Returns how many it killed.
int KillSessionsAndDescendants(const std::set<pid_t>& sessions, const std::set<pid_t>& roots,
                               train::internal::OsEnv* env = train::internal::OsEnv::Default());

// Live children that this process, a child subreaper, adopted: not its own children (see
// RegisterOwnChildLocked), not in its session.
std::vector<pid_t> AdoptedChildren();

// Reaps adopted children that have exited (cheap when there is none: one waitid).
void ReapAdoptedZombies();

}  // namespace trainctl::agent::process_internal

#endif  // TRAINCTL_AGENT_PROCESS_TREE_H_
