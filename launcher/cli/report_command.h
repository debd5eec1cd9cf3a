// `trainctl report RUN_DIR`, and the metrics side of `trainctl run`: its --chaos and
// --metrics-port flags, and the cost summary printed when the job ends.
#ifndef TRAINCTL_CLI_REPORT_COMMAND_H_
#define TRAINCTL_CLI_REPORT_COMMAND_H_

#include <string>

#include "commands.h"
#include "launch_commands.h"
#include "launcher/spec/trainingjob.pb.h"
#include "metrics_collector.h"
#include "terminal.h"
#include "train/env.h"

namespace trainctl::cli {

// Adds `report`; the returned function runs it when it was parsed (nullopt otherwise).
CommandRunner AddReportCommand(CLI::App* app);

// Checks --chaos and --metrics-port against the job; errors name the flag and the fix.
train::Result<agent::MetricsConfig> RunMetricsConfig(const JobFlags& flags,
                                                     const trainctl::v1alpha1::TrainingJob& job);

// Puts the config where every agent of the job reads it (the job's keys in `store`).
train::Status PublishMetricsConfig(const agent::MetricsConfig& config, const std::string& job,
                                   train::Store* store);

// The cost lines of RUN_DIR/metrics.jsonl and where the HTML report is one command away.
void PrintRunSummary(const std::string& run_dir, agent::Terminal* terminal);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_REPORT_COMMAND_H_
