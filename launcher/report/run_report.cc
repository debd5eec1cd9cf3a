#include "run_report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace trainctl::report {
namespace {

using nlohmann::json;

double Num(const json& j, const char* key, double fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Events of node 0 decide the job's timeline (every node writes its own); a single agent
// has no node number until its first round (-1).
bool FromLeadNode(const json& j) { return Num(j, "node", -1) <= 0; }

// Mean (or sum) of the ranks' values for one step of one round, placed at its first report.
struct StepKey {
  std::int64_t restart;
  std::int64_t step;
  bool operator<(const StepKey& o) const {
    return restart != o.restart ? restart < o.restart : step < o.step;
  }
};
struct Accumulator {
  double x = 0, sum = 0;
  int count = 0;
};

std::vector<Point> Series(const std::map<StepKey, Accumulator>& by_step, bool mean) {
  std::vector<Point> points;
  for (const auto& [key, a] : by_step) {
    if (a.count > 0) points.push_back({a.x, mean ? a.sum / a.count : a.sum, key.step, key.restart});
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
  return points;
}

// The last step reported at or before `t` (0 before the first).
std::int64_t StepAt(const std::vector<Point>& steps_by_time, double t) {
  std::int64_t step = 0;
  for (const Point& p : steps_by_time) {
    if (p.x > t) break;
    step = p.step;
  }
  return step;
}

std::string Percent(double part, double whole) {
  std::ostringstream out;
  out.precision(0);
  out << std::fixed << (whole > 0 ? 100 * part / whole : 0) << "%";
  return out.str();
}

std::string Hours(double hours) {
  std::ostringstream out;
  out.precision(hours < 0.1 ? 4 : 2);
  out << std::fixed << hours;
  return out.str();
}

}  // namespace

RunReport BuildRunReport(std::string_view jsonl) {
  std::vector<json> lines;
  std::istringstream in{std::string(jsonl)};
  std::string text;
  while (std::getline(in, text)) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("t")) lines.push_back(std::move(j));
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const json& a, const json& b) { return Num(a, "t") < Num(b, "t"); });
  RunReport r;
  if (lines.empty()) return r;
  const double t0 = Num(lines.front(), "t");
  r.start_time = t0;
  std::map<StepKey, Accumulator> any_step;  // every step report, for placing markers
  double units_per_node = 1, units = 1;
  std::map<StepKey, Accumulator> loss, rate;
  std::map<std::string, std::map<StepKey, Accumulator>> accuracy;
  // The cost walk: each line closes the interval since the previous one, classified by it.
  double previous_t = t0;
  std::int64_t max_step = -1;
  // Steps completed before the newest restart: reaching them again is redone work. Ranks report
  // the same step at slightly different moments, so only a restart makes a step a redo.
  std::int64_t newest_restart = 0, done_before_restart = -1;
  bool first_step_of_round = true, after_restart = false, succeeded = false;
  auto charge = [&](double t, double Cost::*part) {
    const double hours = std::max(0.0, t - previous_t) / 3600.0 * units;
    r.cost.*part += hours;
    r.cost.held += hours;
    previous_t = std::max(previous_t, t);
  };
  for (const json& j : lines) {
    const std::string type = Str(j, "type");
    const double t = Num(j, "t");
    if (type == "agent_start" && FromLeadNode(j)) {
      r.job = Str(j, "job");
      r.cost.unit = Str(j, "unit").empty() ? "core" : Str(j, "unit");
      units_per_node = Num(j, "units_per_node", 1);
      units = units_per_node * Num(j, "max_nodes", 1);
    } else if (type == "step") {
      const StepKey key{static_cast<std::int64_t>(Num(j, "restart")),
                        static_cast<std::int64_t>(Num(j, "step"))};
      auto add = [&](std::map<StepKey, Accumulator>& series, const json& value) {
        if (!value.is_number()) return;
        Accumulator& a = series[key];
        if (a.count == 0) a.x = t - t0;
        a.sum += value.get<double>();
        ++a.count;
      };
      add(any_step, json(0));
      add(loss, j.value("loss", json()));
      add(rate, j.value("samples_per_s", json()));
      if (auto values = j.find("values"); values != j.end() && values->is_object()) {
        for (const auto& [name, value] : values->items()) {
          if (name.find("accuracy") != std::string::npos) add(accuracy[name], value);
        }
      }
      r.last_step = std::max(r.last_step, key.step);
      if (key.restart > newest_restart) {
        newest_restart = key.restart;
        done_before_restart = max_step;
      }
      if (first_step_of_round) {
        charge(t, &Cost::waiting);
      } else if (key.restart == newest_restart && key.step > done_before_restart) {
        charge(t, &Cost::productive);
      } else {
        charge(t, &Cost::restarts);  // redoing steps done before the restart, or a stale report
      }
      first_step_of_round = false;
      max_step = std::max(max_step, key.step);
    } else if (type == "chaos") {
      r.chaos.push_back({t - t0, Str(j, "rule")});
    } else if (!FromLeadNode(j)) {
      continue;
    } else if (type == "rendezvous_start") {
      charge(t, after_restart ? &Cost::restarts : &Cost::rendezvous);
    } else if (type == "round_start") {
      charge(t, &Cost::rendezvous);
      units = units_per_node * Num(j, "nodes", 1);
      first_step_of_round = true;
      after_restart = false;
    } else if (type == "round_end") {
      const std::string outcome = Str(j, "outcome");
      succeeded = outcome == "succeeded";
      charge(t, succeeded ? &Cost::productive : &Cost::restarts);
      if (outcome == "restart" || outcome == "fenced") {
        after_restart = true;
        ++r.cost.restart_count;
        r.restarts.push_back({t - t0, Str(j, "reason").empty() ? outcome : Str(j, "reason")});
      }
    } else if (type == "job_end") {
      charge(t, succeeded ? &Cost::productive : &Cost::restarts);
      r.exit_code = static_cast<int>(Num(j, "exit_code", -1));
    }
  }
  r.cost.wall_seconds = previous_t - t0;
  const std::vector<Point> steps = Series(any_step, true);
  for (auto* markers : {&r.restarts, &r.chaos}) {
    for (Marker& m : *markers) m.step = StepAt(steps, m.x);
  }
  r.loss = Series(loss, true);
  r.samples_per_s = Series(rate, false);
  for (const auto& [name, series] : accuracy) r.accuracy[name] = Series(series, true);
  return r;
}

train::Result<RunReport> ReadRunReport(const std::string& run_dir) {
  const std::string path = run_dir + "/metrics.jsonl";
  std::ifstream in(path);
  if (!in) {
    return train::NotFoundError("cannot read " + path +
                                ": give the run directory `trainctl run` printed (it holds "
                                "metrics.jsonl and rank-N.log)");
  }
  std::stringstream text;
  text << in.rdbuf();
  return BuildRunReport(text.str());
}

std::vector<std::string> SummaryLines(const RunReport& r) {
  const Cost& c = r.cost;
  const std::string unit = c.unit + "-hours";
  std::vector<std::string> lines;
  std::ostringstream wall;
  wall.precision(1);
  wall << std::fixed << c.wall_seconds;
  lines.push_back("held " + Hours(c.held) + " " + unit + " over " + wall.str() + " s, " +
                  std::to_string(c.restart_count) + " restart(s), last step " +
                  std::to_string(r.last_step));
  lines.push_back("lost " + Percent(c.restarts + c.rendezvous + c.waiting, c.held) + " (" +
                  Hours(c.restarts + c.rendezvous + c.waiting) + " " + unit + "): restarts " +
                  Percent(c.restarts, c.held) + ", rendezvous " + Percent(c.rendezvous, c.held) +
                  ", waiting " + Percent(c.waiting, c.held));
  return lines;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

}  // namespace trainctl::report
