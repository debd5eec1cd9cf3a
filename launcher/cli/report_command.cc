#include "report_command.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "run_report.h"
#include "train/internal/job_keys.h"
#include "train/store.h"
#include "train/worker.h"

namespace trainctl::cli {

CommandRunner AddReportCommand(CLI::App* app) {
  struct Flags {
    std::string run_dir;
    std::string output;
    std::string x_axis = "step";
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* report = app->add_subcommand(
      "report", "Write a run's HTML report: loss, accuracy and samples/s plots, restarts, cost");
  report->add_option("RUN_DIR", flags->run_dir, "The run directory `trainctl run` printed")
      ->required();
  report->add_option("-o,--output", flags->output,
                     "HTML file to write (default RUN_DIR/report.html)");
  report->add_option("--x", flags->x_axis, "Plot against step (default) or time")
      ->check(CLI::IsMember({"step", "time"}));
  report->footer(R"(
The page is self-contained (inline SVG, no scripts or fonts): open it offline, attach it to a
ticket. Curves are drawn against the step (--x time: the time since the job started), a line
per round, smoothed when noisy. TensorBoard event files go to RUN_DIR/tb/ too (`tensorboard
--logdir runs/` shows every run). It shows the core-hours (GPU-hours when the job has GPUs) the job held and the share
lost to restarts, rendezvous and waiting.

Examples:
  trainctl report runs/fashion-mnist/20261123-101500
  trainctl report runs/fashion-mnist/20261123-101500 -o /tmp/chaos.html)");
  return [report, flags]() -> std::optional<int> {
    if (!report->parsed()) return std::nullopt;
    auto run = report::ReadRunReport(flags->run_dir);
    if (!run.ok()) {
      std::cerr << "trainctl report: " << run.status().message() << "\n";
      return kExitFailure;
    }
    const std::string output =
        flags->output.empty() ? flags->run_dir + "/report.html" : flags->output;
    std::ofstream out(output);
    out << report::RenderHtml(
        *run, flags->x_axis == "time" ? report::XAxis::kTime : report::XAxis::kStep);
    out.close();
    if (!out) {
      std::cerr << "trainctl report: cannot write " << output << " (is its directory writable?)\n";
      return kExitFailure;
    }
    for (const std::string& line : report::SummaryLines(*run)) std::cout << line << "\n";
    std::cout << "report written to " << output << "\n";
    if (auto tb = report::WriteTensorBoard(*run, flags->run_dir + "/tb"); !tb.ok()) {
      std::cerr << "trainctl report: " << tb.message() << "\n";
      return kExitFailure;
    }
    std::cout << "TensorBoard: tensorboard --logdir " << flags->run_dir << "/tb\n";
    return kExitOk;
  };
}

train::Result<agent::MetricsConfig> RunMetricsConfig(const JobFlags& flags,
                                                     const trainctl::v1alpha1::TrainingJob& job) {
  agent::MetricsConfig config;
  if (flags.metrics_port < 0 || flags.metrics_port > 65535) {
    return train::InvalidArgumentError("--metrics-port " + std::to_string(flags.metrics_port) +
                                       ": give a TCP port from 1 to 65535, or 0 for any free one");
  }
  config.port = flags.metrics_port;
  for (const std::string& text : flags.chaos) {
    TRAIN_ASSIGN_OR_RETURN(agent::ChaosRule rule, agent::ParseChaosRule(text));
    config.chaos.push_back(rule);
  }
  const auto& spec = job.spec();
  TRAIN_RETURN_IF_ERROR(agent::CheckChaosRules(
      config.chaos, spec.nodes().max() * spec.procs_per_node(), spec.nodes().max()));
  return config;
}

train::Status PublishMetricsConfig(const agent::MetricsConfig& config, const std::string& job,
                                   train::Store* store) {
  return store->Set(train::internal::JobKeyPrefix(job) + agent::kMetricsConfigKey, config.ToJson());
}

void PrintRunSummary(const std::string& run_dir, agent::Terminal* terminal) {
  auto run = report::ReadRunReport(run_dir);
  if (!run.ok()) return;
  for (const std::string& line : report::SummaryLines(*run)) {
    terminal->WriteLine("trainctl: " + line);
  }
  if (auto tb = report::WriteTensorBoard(*run, run_dir + "/tb"); !tb.ok()) {
    terminal->WriteLine("trainctl: " + tb.message());
  }
  terminal->WriteLine("trainctl: plots: trainctl report " + run_dir);
}

}  // namespace trainctl::cli
