#include "agent_metrics.h"

#include <map>

#include "quantity.h"

namespace trainctl::agent {

std::unique_ptr<MetricsCollector> StartAgentMetrics(const AgentOptions& options,
                                                    train::Store* job_store, Terminal* terminal) {
  const auto& spec = options.job.spec();
  MetricsOptions m;
  m.job = options.job.metadata().name();
  m.run_dir = options.run_dir;
  m.node_hint = options.node_rank_hint;
  m.job_store = job_store;
  m.max_nodes = spec.nodes().max();
  // What the job holds per node, for the cost summary: its GPUs, else its CPU request, else a
  // core per worker.
  m.unit = "core";
  m.units_per_node = spec.procs_per_node();
  if (spec.resources().gpus() > 0) {
    m.unit = "gpu";
    m.units_per_node = spec.resources().gpus();
  } else if (!spec.resources().cpu().empty()) {
    if (auto cores = spec::ParseQuantity(spec.resources().cpu()); cores.ok() && *cores > 0) {
      m.units_per_node = *cores;
    }
  }
  auto config = job_store->TryGet(kMetricsConfigKey);
  if (config.ok() && *config) {
    auto parsed = MetricsConfig::FromJson(**config);
    if (parsed.ok()) {
      m.chaos = parsed->chaos;
      if (parsed->port != 0) m.http_port = parsed->port + std::max(0, options.node_rank_hint);
    } else {
      terminal->WriteLine("trainctl: ignoring the job's metrics settings: " +
                          parsed.status().message());
    }
  }
  auto collector = MetricsCollector::Start(std::move(m), terminal);
  if (!collector.ok()) {
    terminal->WriteLine("trainctl: running without metrics: " + collector.status().message());
    return nullptr;
  }
  return std::move(*collector);
}

std::string RoundEndName(RoundEnd::Kind kind) {
  switch (kind) {
    case RoundEnd::kSucceeded:
      return "succeeded";
    case RoundEnd::kFailed:
      return "failed";
    case RoundEnd::kRestart:
      return "restart";
    case RoundEnd::kFenced:
      return "fenced";
    case RoundEnd::kStopped:
      return "stopped";
  }
  return "?";
}

void NoteRoundStarted(MetricsCollector* metrics, const Round& round, int nproc,
                      const std::vector<pid_t>& pids) {
  if (metrics == nullptr) return;
  std::map<int, pid_t> by_rank;
  for (std::size_t local = 0; local < pids.size(); ++local) {
    by_rank[round.node_rank * nproc + static_cast<int>(local)] = pids[local];
  }
  metrics->RoundStarted(round.id, round.node_rank, round.num_nodes(), round.num_nodes() * nproc,
                        round.restart_count, by_rank);
}

}  // namespace trainctl::agent
