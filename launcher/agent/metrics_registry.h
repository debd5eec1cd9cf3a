// What the agent knows about its workers' progress: the step reports they sent (decoded from
// the datagrams train::ReportStep writes), summed over restarts, and served in the Prometheus
// text exposition format.
#ifndef TRAINCTL_AGENT_METRICS_REGISTRY_H_
#define TRAINCTL_AGENT_METRICS_REGISTRY_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "train/status.h"

namespace trainctl::agent {

// libtrain's own counters: cumulative over one worker process's life.
struct LibraryTotals {
  std::int64_t allreduce_ops = 0;
  std::int64_t allreduce_bytes = 0;
  double allreduce_seconds = 0;
  std::int64_t checkpoint_saves = 0;
  double checkpoint_save_seconds = 0;
  double checkpoint_stall_seconds = 0;
};

// One step report as a worker sent it (docs/metrics.md, "The wire format").
struct WorkerReport {
  double t = 0;  // the worker's wall clock, Unix seconds
  int rank = -1;
  pid_t pid = 0;
  std::string run;  // the rendezvous round
  int restart = 0;
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  double loss = 0;  // NaN when the worker's was not finite
  std::int64_t samples = 0;
  std::vector<std::pair<std::string, double>> values;
  LibraryTotals library;
  double last_checkpoint_save_seconds = 0;
  // The step alone (Worker::ReportProgress): no loss, samples or counters to record.
  bool progress_only = false;
};

// Errors name what is wrong with the datagram (the agent counts and drops those).
train::Result<WorkerReport> DecodeWorkerReport(std::string_view datagram);

// Prometheus text format helpers: a label value with \ " and newlines escaped, and a sample
// value (NaN, +Inf, -Inf spelled as Prometheus reads them).
std::string EscapeLabelValue(std::string_view value);
std::string FormatSampleValue(double value);

class MetricsRegistry {
 public:
  explicit MetricsRegistry(std::string job);

  // Records a report; returns the worker's samples/s since its previous report (0 for a
  // process's first report).
  double Add(const WorkerReport& report);
  void SetRound(std::int64_t round, int restarts, int workers);
  void CountChaosAction();
  void CountMalformed();

  // The whole exposition: HELP and TYPE lines, then the samples, for every metric.
  std::string Prometheus() const;

 private:
  struct Rank {
    WorkerReport last;
    double last_t = 0;
    pid_t pid = 0;
    double samples_per_second = 0;
    std::int64_t samples_total = 0;
    std::int64_t reports = 0;
    LibraryTotals earlier;  // summed over this rank's previous processes
  };

  const std::string job_;
  mutable std::mutex mutex_;
  std::map<int, Rank> ranks_;
  std::int64_t round_ = -1;
  int restarts_ = 0;
  int workers_ = 0;
  std::int64_t chaos_actions_ = 0;
  std::int64_t malformed_ = 0;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_METRICS_REGISTRY_H_
