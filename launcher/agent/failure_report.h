// What went wrong in a round, as recorded in the store and printed for the user: which rank,
// on which node and host, which pid, how it ended, when, and the last lines it printed.
#ifndef TRAINCTL_AGENT_FAILURE_REPORT_H_
#define TRAINCTL_AGENT_FAILURE_REPORT_H_

#include <string>
#include <vector>

#include "train/status.h"
#include "worker_group.h"

namespace trainctl::agent {

struct FailureReport {
  int rank = -1;  // -1 when no worker is to blame (a lost node)
  int node_rank = -1;
  int reporter = -1;  // the node that recorded it (it prints the summary)
  std::string host;
  int pid = 0;
  int exit_code = 0;  // what trainctl exits with: the worker's code, or 128+signal
  int signal = 0;
  std::string when;    // local wall-clock time, HH:MM:SS.mmm
  std::string reason;  // "exited with code 1", "missed its heartbeats for 5s (hung?)", ...
  std::string log_path;
  std::vector<std::string> last_lines;

  std::string ToJson() const;
  static train::Result<FailureReport> FromJson(const std::string& text);

  // The root-cause summary: one headline, then the last lines of the rank's output.
  std::vector<std::string> Summary(const std::string& job_name, int restarts) const;
};

// The report for a worker that ended badly.
FailureReport ReportExit(const WorkerExit& exit, int node_rank, const std::string& host,
                         const std::string& log_path, std::vector<std::string> last_lines);

// HH:MM:SS.mmm of now, for reports and logs.
std::string WallClockNow();

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_FAILURE_REPORT_H_
