#include "metrics_registry.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

namespace trainctl::agent {
namespace {

using nlohmann::json;

double NumberOrNan(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::numeric_limits<double>::quiet_NaN();
  return it->get<double>();
}

LibraryTotals Plus(const LibraryTotals& a, const LibraryTotals& b) {
  return {a.allreduce_ops + b.allreduce_ops,
          a.allreduce_bytes + b.allreduce_bytes,
          a.allreduce_seconds + b.allreduce_seconds,
          a.checkpoint_saves + b.checkpoint_saves,
          a.checkpoint_save_seconds + b.checkpoint_save_seconds,
          a.checkpoint_stall_seconds + b.checkpoint_stall_seconds};
}

// Builds the exposition one metric family at a time.
class Exposition {
 public:
  explicit Exposition(std::string job) : job_label_("job=\"" + EscapeLabelValue(job) + "\"") {}

  void Family(const std::string& name, const char* type, const char* help) {
    text_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, const std::string& labels, double value) {
    text_ += name + "{" + job_label_ + (labels.empty() ? "" : "," + labels) + "} " +
             FormatSampleValue(value) + "\n";
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string job_label_;
  std::string text_;
};

std::string RankLabel(int rank) { return "rank=\"" + std::to_string(rank) + "\""; }

}  // namespace

train::Result<WorkerReport> DecodeWorkerReport(std::string_view datagram) {
  json j = json::parse(datagram, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return train::InvalidArgumentError("a step report that is not a JSON object");
  }
  WorkerReport r;
  try {
    if (j.value("v", 0) != 1) {
      return train::InvalidArgumentError("a step report of wire version " +
                                         j.value("v", json(nullptr)).dump() +
                                         " (this agent reads 1)");
    }
    r.t = j.at("t").get<double>();
    r.rank = j.at("rank").get<int>();
    r.pid = static_cast<pid_t>(j.at("pid").get<std::int64_t>());
    r.run = j.value("run", "");
    r.restart = j.value("restart", 0);
    r.step = j.at("step").get<std::int64_t>();
    r.epoch = j.value("epoch", std::int64_t{0});
    r.loss = NumberOrNan(j, "loss");
    r.samples = j.value("samples", std::int64_t{0});
    if (auto values = j.find("values"); values != j.end() && values->is_object()) {
      for (const auto& [name, value] : values->items()) {
        r.values.emplace_back(name, value.is_number() ? value.get<double>()
                                                      : std::numeric_limits<double>::quiet_NaN());
      }
    }
    r.library.allreduce_ops = j.value("allreduce_ops", std::int64_t{0});
    r.library.allreduce_bytes = j.value("allreduce_bytes", std::int64_t{0});
    r.library.allreduce_seconds = j.value("allreduce_seconds", 0.0);
    r.library.checkpoint_saves = j.value("checkpoint_saves", std::int64_t{0});
    r.library.checkpoint_save_seconds = j.value("checkpoint_save_seconds", 0.0);
    r.library.checkpoint_stall_seconds = j.value("checkpoint_stall_seconds", 0.0);
    r.last_checkpoint_save_seconds = j.value("last_checkpoint_save_seconds", 0.0);
    r.progress_only = j.value("progress_only", false);
  } catch (const json::exception& e) {
    return train::InvalidArgumentError(std::string("a step report with a missing or mistyped "
                                                   "field: ") +
                                       e.what());
  }
  if (r.rank < 0) {
    return train::InvalidArgumentError("a step report from rank " + std::to_string(r.rank) +
                                       " (a worker started without the trainctl environment)");
  }
  return r;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

MetricsRegistry::MetricsRegistry(std::string job) : job_(std::move(job)) {}

double MetricsRegistry::Add(const WorkerReport& report) {
  std::lock_guard<std::mutex> lock(mutex_);
  Rank& rank = ranks_[report.rank];
  double rate = 0;
  if (rank.reports > 0 && rank.pid == report.pid) {
    const double dt = report.t - rank.last_t;
    if (dt > 0) rate = static_cast<double>(report.samples) / dt;
  } else if (rank.reports > 0) {
    // A new process for this rank (a restart): its counters start again from zero.
    rank.earlier = Plus(rank.earlier, rank.last.library);
  }
  rank.samples_per_second = rate;
  rank.last = report;
  rank.last_t = report.t;
  rank.pid = report.pid;
  rank.samples_total += report.samples;
  ++rank.reports;
  return rate;
}

void MetricsRegistry::SetRound(std::int64_t round, int restarts, int workers) {
  std::lock_guard<std::mutex> lock(mutex_);
  round_ = round;
  restarts_ = restarts;
  workers_ = workers;
}

void MetricsRegistry::CountChaosAction() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++chaos_actions_;
}

void MetricsRegistry::CountMalformed() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++malformed_;
}

std::string MetricsRegistry::Prometheus() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Exposition out(job_);
  auto per_rank = [&](const std::string& name, const char* type, const char* help,
                      const std::function<double(const Rank&)>& value) {
    out.Family(name, type, help);
    for (const auto& [rank, state] : ranks_) out.Sample(name, RankLabel(rank), value(state));
  };
  auto total = [](const Rank& r) { return Plus(r.earlier, r.last.library); };

  out.Family("trainctl_restarts_total", "counter", "Restarts of the job's workers so far.");
  out.Sample("trainctl_restarts_total", "", restarts_);
  out.Family("trainctl_round", "gauge", "The rendezvous round this node runs (-1 before one).");
  out.Sample("trainctl_round", "", static_cast<double>(round_));
  out.Family("trainctl_workers", "gauge", "Workers in the job's current round.");
  out.Sample("trainctl_workers", "", workers_);
  out.Family("trainctl_chaos_actions_total", "counter",
             "Faults injected by --chaos rules on this node.");
  out.Sample("trainctl_chaos_actions_total", "", static_cast<double>(chaos_actions_));
  out.Family("trainctl_reports_malformed_total", "counter",
             "Datagrams on the metrics socket that were not valid step reports.");
  out.Sample("trainctl_reports_malformed_total", "", static_cast<double>(malformed_));

  per_rank("trainctl_reports_total", "counter", "Step reports received from the worker.",
           [](const Rank& r) { return static_cast<double>(r.reports); });
  per_rank("trainctl_step", "gauge", "The last optimizer step the worker reported.",
           [](const Rank& r) { return static_cast<double>(r.last.step); });
  per_rank("trainctl_epoch", "gauge", "The epoch of the worker's last report.",
           [](const Rank& r) { return static_cast<double>(r.last.epoch); });
  per_rank("trainctl_loss", "gauge", "The loss of the worker's last report.",
           [](const Rank& r) { return r.last.loss; });
  per_rank("trainctl_samples_total", "counter", "Samples the worker processed, over restarts.",
           [](const Rank& r) { return static_cast<double>(r.samples_total); });
  per_rank("trainctl_samples_per_second", "gauge",
           "The worker's throughput between its last two reports.",
           [](const Rank& r) { return r.samples_per_second; });
  per_rank("trainctl_allreduce_ops_total", "counter", "All-reduce operations completed.",
           [&](const Rank& r) { return static_cast<double>(total(r).allreduce_ops); });
  per_rank("trainctl_allreduce_bytes_total", "counter", "Bytes all-reduced (input size).",
           [&](const Rank& r) { return static_cast<double>(total(r).allreduce_bytes); });
  per_rank("trainctl_allreduce_seconds_total", "counter", "Seconds spent in all-reduce.",
           [&](const Rank& r) { return total(r).allreduce_seconds; });
  per_rank("trainctl_checkpoint_saves_total", "counter", "Checkpoint saves committed.",
           [&](const Rank& r) { return static_cast<double>(total(r).checkpoint_saves); });
  per_rank("trainctl_checkpoint_save_seconds_total", "counter",
           "Seconds from Save to commit, background writing included.",
           [&](const Rank& r) { return total(r).checkpoint_save_seconds; });
  per_rank("trainctl_checkpoint_stall_seconds_total", "counter",
           "Seconds checkpoint saves held the training loop.",
           [&](const Rank& r) { return total(r).checkpoint_stall_seconds; });
  per_rank("trainctl_checkpoint_last_save_seconds", "gauge",
           "Duration of the worker's last committed checkpoint save.",
           [](const Rank& r) { return r.last.last_checkpoint_save_seconds; });

  out.Family("trainctl_value", "gauge", "Other values the worker reported (StepReport.values).");
  for (const auto& [rank, state] : ranks_) {
    for (const auto& [name, value] : state.last.values) {
      out.Sample("trainctl_value", RankLabel(rank) + ",name=\"" + EscapeLabelValue(name) + "\"",
                 value);
    }
  }
  return out.Take();
}

}  // namespace trainctl::agent
