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
  // What a Python worker's @record (torch.distributed.elastic) wrote to TORCHELASTIC_ERROR_FILE:
  // the exception ("ValueError: bad lr") and its traceback, one line each. Empty without one.
  std::string error;
  std::vector<std::string> traceback;
  std::string error_file;

  std::string ToJson() const;
  static train::Result<FailureReport> FromJson(const std::string& text);

  // The root-cause summary: one headline, then the exception and traceback the rank recorded
  // in its error file when there is one, else the last lines of its output.
  std::vector<std::string> Summary(const std::string& job_name, int restarts) const;
};

// The report for a worker that ended badly; reads its error file (ErrorFileBeside the log)
// when the worker wrote one.
FailureReport ReportExit(const WorkerExit& exit, int node_rank, const std::string& host,
                         const std::string& log_path, std::vector<std::string> last_lines);

// A worker's TORCHELASTIC_ERROR_FILE, beside its log: RUN_DIR/rank-3.log -> rank-3.error.json.
std::string ErrorFileBeside(const std::string& log_path);

// Fills report->error and ->traceback from a torch elastic error file's text
// ({"message": {"message": "...", "extraInfo": {"py_callstack": "..."}}}, or a plain message);
// false when the text is not one.
bool ReadTorchErrorFile(const std::string& text, FailureReport* report);

// HH:MM:SS.mmm of now, for reports and logs.
std::string WallClockNow();

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_FAILURE_REPORT_H_
