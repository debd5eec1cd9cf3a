// The live status line of `trainctl run` on a terminal: round, ranks up, restarts, elapsed.
// Read from the job's store a few times a second; nothing is drawn when stdout is not a TTY.
#ifndef TRAINCTL_CLI_STATUS_LINE_H_
#define TRAINCTL_CLI_STATUS_LINE_H_

#include <atomic>
#include <string>
#include <thread>

#include "terminal.h"
#include "train/env.h"

namespace trainctl::cli {

class StatusLine {
 public:
  StatusLine(agent::Terminal* terminal, const train::StoreAddress& store, std::string token,
             std::string job_id);
  ~StatusLine() { Stop(); }

  // Stops updating and erases the line. Idempotent.
  void Stop();

 private:
  agent::Terminal* terminal_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_STATUS_LINE_H_
