#include "process_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "process_fd.h"

namespace trainctl::agent::process_internal {
namespace {

std::mutex& ScopeMutex() {
  static std::mutex mutex;
  return mutex;
}
JobScope& Scope() {
  static JobScope scope;
  return scope;
}

std::mutex& OwnChildrenMutex() {
  static std::mutex mutex;
  return mutex;
}
std::set<pid_t>& OwnChildren() {
  static std::set<pid_t> pids;
  return pids;
}

// A kill stops after this many scans even if the job keeps forking.
constexpr int kMaxKillPasses = 50;

}  // namespace

JobScope CurrentJobScope() {
  std::lock_guard<std::mutex> lock(ScopeMutex());
  return Scope();
}

void SetJobScope(JobScope scope) {
  std::lock_guard<std::mutex> lock(ScopeMutex());
  Scope() = std::move(scope);
}

void ReportSession(pid_t pid) {
  std::lock_guard<std::mutex> lock(ScopeMutex());
  int fd = Scope().watchdog_fd;
  if (fd < 0) return;
  // One record is far below PIPE_BUF, so writes from several threads never interleave. The end
  // is non-blocking: a watchdog that stopped reading must not stall the launcher.
  std::int32_t record = pid;
  if (::write(fd, &record, sizeof(record)) != static_cast<ssize_t>(sizeof(record))) {
    std::fprintf(stderr,
                 "trainctl: cannot tell the job's watchdog about process %d: %s; if trainctl is "
                 "killed, what that process started may survive it\n",
                 static_cast<int>(pid < 0 ? -pid : pid), std::strerror(errno));
  }
}

std::unique_lock<std::mutex> LockOwnChildren() {
  return std::unique_lock<std::mutex>(OwnChildrenMutex());
}

void RegisterOwnChildLocked(pid_t pid) { OwnChildren().insert(pid); }

void UnregisterOwnChild(pid_t pid) {
  std::lock_guard<std::mutex> lock(OwnChildrenMutex());
  OwnChildren().erase(pid);
}

bool ReadProcess(pid_t pid, ProcessInfo* info) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  char buffer[2048];
  ssize_t n;
  do {
    n = ::read(fd.get(), buffer, sizeof(buffer) - 1);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  buffer[n] = '\0';
  // "PID (COMM) STATE PPID PGRP SESSION ...": COMM may hold spaces and parentheses.
  char* close = std::strrchr(buffer, ')');
  if (close == nullptr) return false;
  char state = '?';
  int ppid = 0, pgrp = 0, session = 0;
  unsigned long long start_time = 0;
  // Fields 3-6, then 7-21 skipped, then 22 (starttime).
  if (std::sscanf(close + 1,
                  " %c %d %d %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                  &state, &ppid, &pgrp, &session, &start_time) != 5) {
    return false;
  }
  *info = ProcessInfo{pid, ppid, pgrp, session, state, start_time};
  return true;
}

std::vector<ProcessInfo> ScanProcesses() {
  std::vector<ProcessInfo> processes;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return processes;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    ProcessInfo info;
    if (ReadProcess(static_cast<pid_t>(pid), &info)) processes.push_back(info);
  }
  ::closedir(proc);
  return processes;
}

std::vector<pid_t> JobProcesses(const std::vector<ProcessInfo>& processes,
                                const std::set<pid_t>& sessions, const std::set<pid_t>& roots) {
  std::vector<pid_t> job;
  if (sessions.empty() && roots.empty()) return job;
  // This process and its ancestors are never the job's, even if a pid was reused.
  std::set<pid_t> spared = {1};
  for (pid_t p = ::getpid(); p > 1 && spared.insert(p).second;) {
    ProcessInfo info;
    if (!ReadProcess(p, &info)) break;
    p = info.ppid;
  }
  std::map<pid_t, const ProcessInfo*> by_pid;
  for (const ProcessInfo& p : processes) by_pid[p.pid] = &p;
  std::map<pid_t, bool> known;  // memo: whether a pid or one of its ancestors is the job's
  auto is_job = [&](pid_t start) {
    std::vector<pid_t> chain;
    bool verdict = false;
    for (pid_t p = start; p > 1;) {
      if (auto it = known.find(p); it != known.end()) {
        verdict = it->second;
        break;
      }
      auto it = by_pid.find(p);
      if (it == by_pid.end() || spared.count(p)) break;
      chain.push_back(p);
      const ProcessInfo& info = *it->second;
      if (roots.count(p) || sessions.count(info.session) || sessions.count(info.pgrp)) {
        verdict = true;
        break;
      }
      if (chain.size() > by_pid.size()) break;  // a cycle in a racing snapshot
      p = info.ppid;
    }
    for (pid_t p : chain) known[p] = verdict;
    return verdict;
  };
  for (const ProcessInfo& p : processes) {
    if (p.state != 'Z' && !spared.count(p.pid) && is_job(p.pid)) job.push_back(p.pid);
  }
  return job;
}

int KillSessionsAndDescendants(const std::set<pid_t>& sessions, const std::set<pid_t>& roots,
                               train::internal::OsEnv* env) {
  if (sessions.empty() && roots.empty()) return 0;
  int killed = 0;
  for (int pass = 0; pass < kMaxKillPasses; ++pass) {
    int found = 0;
    for (pid_t pid : JobProcesses(ScanProcesses(), sessions, roots)) {
      if (env->Kill(pid, SIGKILL) == 0) ++found;
    }
    killed += found;
    if (found == 0) break;
  }
  return killed;
}

std::vector<pid_t> AdoptedChildren() {
  std::vector<pid_t> adopted;
  const pid_t self = ::getpid();
  const pid_t own_session = ::getsid(0);
  std::vector<ProcessInfo> processes = ScanProcesses();
  std::lock_guard<std::mutex> lock(OwnChildrenMutex());
  for (const ProcessInfo& p : processes) {
    if (p.ppid != self || p.state == 'Z' || p.session == own_session ||
        OwnChildren().count(p.pid)) {
      continue;
    }
    adopted.push_back(p.pid);
  }
  return adopted;
}

void ReapAdoptedZombies() {
  siginfo_t info{};
  // WNOWAIT: only look; most of the time there is no exited child at all.
  if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
  {
    // Most often a worker its group is about to reap: no orphan to look for then (one that
    // exited meanwhile is reaped next time).
    std::lock_guard<std::mutex> lock(OwnChildrenMutex());
    if (OwnChildren().count(info.si_pid)) return;
  }
  const pid_t self = ::getpid();
  const pid_t own_session = ::getsid(0);
  std::vector<ProcessInfo> processes = ScanProcesses();
  std::lock_guard<std::mutex> lock(OwnChildrenMutex());
  for (const ProcessInfo& p : processes) {
    if (p.ppid != self || p.state != 'Z' || p.session == own_session ||
        OwnChildren().count(p.pid)) {
      continue;
    }
    int status = 0;
    (void)::waitpid(p.pid, &status, WNOHANG);
  }
}

}  // namespace trainctl::agent::process_internal
