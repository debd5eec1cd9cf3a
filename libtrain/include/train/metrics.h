// Step reports: what a training program tells its agent after each optimizer step.
//
//   train::StepReport report;
//   report.step = step;                 // optimizer steps completed
//   report.epoch = epoch;
//   report.loss = loss;
//   report.samples = batch_size;        // since the previous report
//   report.values = {{"lr", lr}};       // anything else worth plotting
//   (void)train::ReportStep(report);    // cheap; never blocks training
//
// Under trainctl the report goes to this worker's agent, which serves it as Prometheus metrics,
// appends it to the run directory's metrics.jsonl and applies `trainctl run --chaos` rules to
// it. libtrain adds its own counters to every report (all-reduce bytes and seconds, checkpoint
// save durations), so programs need not. docs/metrics.md describes the wire format.
#ifndef TRAIN_METRICS_H_
#define TRAIN_METRICS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "train/status.h"

namespace train {

struct StepReport {
  std::int64_t step = 0;  // optimizer steps completed (the same on every rank)
  std::int64_t epoch = 0;
  double loss = 0;           // this rank's mean loss over its last step (or an average)
  std::int64_t samples = 0;  // samples this rank processed since its previous report
  // Anything else worth plotting: "test_accuracy", "lr", "grad_norm", ...
  std::vector<std::pair<std::string, double>> values;
};

// Sends the report to this worker's agent (the socket named by TRAIN_METRICS_SOCKET, set by the
// agent). Never blocks training for long; OK and a no-op when the worker runs without an agent.
// A report the agent cannot take right now (its queue is full, it is gone) is dropped: reports
// are telemetry, not state. Errors: a negative step, epoch or samples, an empty value name, or
// a report too large for one datagram (more than a few thousand values).
Status ReportStep(const StepReport& report);

}  // namespace train

#endif  // TRAIN_METRICS_H_
