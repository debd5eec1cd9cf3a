// The live status line of `trainctl run` on a terminal: round, ranks up, restarts, elapsed.
// Read from the job's store a few times a second; nothing is drawn when stdout is not a TTY.
#ifndef TRAINCTL_CLI_STATUS_LINE_H_
#define TRAINCTL_CLI_STATUS_LINE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "terminal.h"
#include "train/env.h"
#include "train/store.h"

namespace trainctl::cli {

class StatusLine {
 public:
  // `connect` gives the job's store (the built-in one or etcd), called on the line's thread.
  StatusLine(agent::Terminal* terminal,
             std::function<train::Result<std::unique_ptr<train::Store>>()> connect,
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
