// train::ReportStep: one reporter per process, made on the first report from the environment
// the agent gave the worker.
#include <unistd.h>

#include <memory>

#include "metrics/step_reporter.h"
#include "train/env.h"
#include "train/internal/env_names.h"
#include "train/internal/process_environment.h"
#include "train/metrics.h"

namespace train {
namespace {

internal::StepReporter& Reporter() {
  static internal::StepReporter* reporter = [] {
    // The worker's identity comes from the one environment reader; the socket path is the
    // agent's, set beside the worker contract.
    const auto vars = internal::ProcessEnvironment();
    internal::ReporterIdentity who;
    who.pid = ::getpid();
    if (auto env = WorkerEnv::FromVariables(vars); env.ok()) {
      who.rank = env->rank;
      who.run_id = env->run_id;
      who.restart_count = env->restart_count;
    }
    auto it = vars.find(internal::kMetricsSocketVariable);
    // Leaked on purpose: reports may come from threads still running at exit.
    return new internal::StepReporter(it == vars.end() ? "" : it->second, who);
  }();
  return *reporter;
}

}  // namespace

Status ReportStep(const StepReport& report) { return Reporter().Send(report); }

Status internal::ReportProgress(std::int64_t step) { return Reporter().SendProgress(step); }

}  // namespace train
