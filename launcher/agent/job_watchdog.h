// The job watchdog: a small process that kills everything a job started once its launcher
// (trainctl run, trainctl agent) is gone, however it went (SIGKILL included).
//
// Why a process: nothing runs in a process killed with SIGKILL, and PR_SET_PDEATHSIG reaches
// only direct children, not what a worker forks. The watchdog holds the read end of a pipe whose
// only write end is the launcher's: when the launcher dies, the kernel closes it, the watchdog
// reads end of file, kills the job's processes and exits.
//
// How it finds them: a cgroup v2 per job (each worker in a cgroup below it) when the hierarchy is
// writable; a process cannot leave it by setsid or by double-forking, and cgroup.kill ends it at
// once. Else each worker leads its own session, the launcher reports every worker's pid through
// the pipe, and the watchdog kills every process in those sessions or process groups and their
// descendants (a /proc scan). Five times a second it also notes the job's processes, with the
// orphans the launcher adopted as a child subreaper, so that a process that left its worker's
// session (setsid, a double-forked daemon) is still found once the launcher, and with it the
// parent that linked it to the job, is gone.
//
// While the launcher lives it is a child subreaper (PR_SET_CHILD_SUBREAPER): orphans of the job
// become its children, so the worker group kills and reaps them when it stops.
#ifndef TRAINCTL_AGENT_JOB_WATCHDOG_H_
#define TRAINCTL_AGENT_JOB_WATCHDOG_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "train/status.h"

namespace trainctl::agent {

struct JobWatchdogOptions {
  bool use_cgroup = true;     // false: track by session even where a cgroup could be made
  std::string cgroup_parent;  // where the job's cgroup goes ("": this process's own cgroup)
};

class JobWatchdog {
 public:
  // Forks the watchdog, makes this process a child subreaper and points every worker group of
  // this process at the watchdog. Call it while this process has a single thread (the watchdog
  // runs on a copy of this process, without exec): an error otherwise. At most one at a time.
  static train::Result<std::unique_ptr<JobWatchdog>> Start(const JobWatchdogOptions& options);

  // A normal end: the watchdog kills whatever of the job is still running, removes the job's
  // cgroup and exits; waits (briefly) for it.
  ~JobWatchdog();
  JobWatchdog(const JobWatchdog&) = delete;
  JobWatchdog& operator=(const JobWatchdog&) = delete;

  pid_t pid() const { return pid_; }
  // The job's cgroup, or "" when the job's processes are tracked by session.
  const std::string& cgroup_dir() const { return cgroup_dir_; }
  // One line for the log: how the job's processes are tracked and, without a cgroup, why.
  const std::string& description() const { return description_; }

 private:
  JobWatchdog() = default;
  pid_t pid_ = -1;
  int write_fd_ = -1;
  std::string cgroup_dir_;
  std::string description_;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_JOB_WATCHDOG_H_
