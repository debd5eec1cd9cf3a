// The worker's end of the metrics socket: encodes step reports as JSON datagrams and sends them
// to the agent without ever waiting for it. docs/metrics.md gives the format.
#ifndef TRAIN_SRC_METRICS_STEP_REPORTER_H_
#define TRAIN_SRC_METRICS_STEP_REPORTER_H_

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <string>

#include "train/internal/counters.h"
#include "train/metrics.h"

namespace train::internal {

// Who sends: carried in every datagram so the agent can tell ranks and restarts apart.
struct ReporterIdentity {
  int rank = -1;
  pid_t pid = 0;
  std::string run_id;  // the rendezvous round
  int restart_count = 0;
};

// Checks the report (see ReportStep) and encodes it as one JSON object.
Result<std::string> EncodeStepReport(const StepReport& report, const ReporterIdentity& who,
                                     const LibraryCounters& counters, double unix_seconds);

// The step alone ("progress_only": true), for the status line and --chaos: what the trainer
// says after every step, whether or not the program reports steps itself.
Result<std::string> EncodeProgressReport(std::int64_t step, const ReporterIdentity& who,
                                         double unix_seconds);

class StepReporter {
 public:
  // `socket_path` empty: every Send is an OK no-op.
  StepReporter(std::string socket_path, ReporterIdentity who);
  ~StepReporter();
  StepReporter(const StepReporter&) = delete;
  StepReporter& operator=(const StepReporter&) = delete;

  // Encodes and sends without blocking. A datagram the agent cannot take now is dropped.
  Status Send(const StepReport& report);
  Status SendProgress(std::int64_t step);

  std::int64_t sent() const;
  std::int64_t dropped() const;

 private:
  bool ConnectLocked();
  Status SendText(const std::string& text);

  const std::string path_;
  const ReporterIdentity who_;
  mutable std::mutex mutex_;
  int fd_ = -1;
  std::int64_t sent_ = 0;
  std::int64_t dropped_ = 0;
  std::int64_t failed_connects_ = 0;
};

// This process's reporter's SendProgress (report_step.cc): Worker::ReportProgress.
Status ReportProgress(std::int64_t step);

}  // namespace train::internal

#endif  // TRAIN_SRC_METRICS_STEP_REPORTER_H_
