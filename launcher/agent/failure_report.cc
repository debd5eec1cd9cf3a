#include "failure_report.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace trainctl::agent {

using nlohmann::json;

namespace {

std::string FormatTime(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%02d:%02d:%02d.%03d", local.tm_hour, local.tm_min,
                local.tm_sec, static_cast<int>(millis));
  return buffer;
}

}  // namespace

std::string WallClockNow() { return FormatTime(std::chrono::system_clock::now()); }

std::string FailureReport::ToJson() const {
  return json{{"rank", rank},
              {"node", node_rank},
              {"host", host},
              {"reporter", reporter},
              {"pid", pid},
              {"exit_code", exit_code},
              {"signal", signal},
              {"when", when},
              {"reason", reason},
              {"log", log_path},
              {"last_lines", last_lines},
              {"error", error},
              {"traceback", traceback},
              {"error_file", error_file}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

train::Result<FailureReport> FailureReport::FromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    FailureReport r;
    r.rank = j.at("rank").get<int>();
    r.node_rank = j.at("node").get<int>();
    r.host = j.at("host").get<std::string>();
    r.reporter = j.value("reporter", -1);
    r.pid = j.at("pid").get<int>();
    r.exit_code = j.at("exit_code").get<int>();
    r.signal = j.at("signal").get<int>();
    r.when = j.at("when").get<std::string>();
    r.reason = j.at("reason").get<std::string>();
    r.log_path = j.at("log").get<std::string>();
    r.last_lines = j.at("last_lines").get<std::vector<std::string>>();
    r.error = j.value("error", "");
    r.traceback = j.value("traceback", std::vector<std::string>{});
    r.error_file = j.value("error_file", "");
    return r;
  } catch (const json::exception& e) {
    return train::DataLossError(std::string("malformed failure record in the store: ") + e.what());
  }
}

std::vector<std::string> FailureReport::Summary(const std::string& job_name, int restarts) const {
  std::string headline = "trainctl: job " + job_name + " failed";
  if (restarts > 0) headline += " after " + std::to_string(restarts) + " restart(s)";
  headline += ": ";
  if (rank >= 0) {
    headline += "rank " + std::to_string(rank) + " (node " + std::to_string(node_rank) + " on " +
                host + ", pid " + std::to_string(pid) + ") " + reason + " at " + when;
  } else {
    headline += reason + " at " + when;
  }
  std::vector<std::string> lines = {headline};
  if (!error.empty()) {
    lines.push_back("trainctl: rank " + std::to_string(rank) + " raised " + error + " (" +
                    error_file + (log_path.empty() ? "" : "; its output: " + log_path) + ")");
    for (const std::string& line : traceback) lines.push_back("  | " + line);
  } else if (!last_lines.empty()) {
    lines.push_back("trainctl: last lines of rank " + std::to_string(rank) +
                    (log_path.empty() ? "" : " (" + log_path + ")") + ":");
    for (const std::string& line : last_lines) lines.push_back("  | " + line);
  }
  return lines;
}

FailureReport ReportExit(const WorkerExit& exit, int node_rank, const std::string& host,
                         const std::string& log_path, std::vector<std::string> last_lines) {
  FailureReport r;
  r.rank = exit.rank;
  r.node_rank = node_rank;
  r.host = host;
  r.pid = exit.pid;
  r.exit_code = exit.ShellCode();
  r.signal = exit.signal;
  r.when = FormatTime(exit.when);
  r.reason = exit.Describe();
  r.log_path = log_path;
  r.last_lines = std::move(last_lines);
  if (!log_path.empty()) {
    const std::string error_file = ErrorFileBeside(log_path);
    std::ifstream in(error_file);
    std::stringstream text;
    if (in && text << in.rdbuf() && ReadTorchErrorFile(text.str(), &r)) r.error_file = error_file;
  }
  return r;
}

std::string ErrorFileBeside(const std::string& log_path) {
  const std::string stem = log_path.size() > 4 && log_path.ends_with(".log")
                               ? log_path.substr(0, log_path.size() - 4)
                               : log_path;
  return stem + ".error.json";
}

bool ReadTorchErrorFile(const std::string& text, FailureReport* report) {
  constexpr std::size_t kMaxTracebackLines = 40;  // the end holds the raise
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("message")) return false;
  const json& message = j["message"];
  std::string callstack;
  if (message.is_string()) {
    report->error = message.get<std::string>();
  } else if (message.is_object() && message.value("message", json()).is_string()) {
    report->error = message["message"].get<std::string>();
    const json info = message.value("extraInfo", json::object());
    if (info.is_object()) callstack = info.value("py_callstack", "");
  } else {
    return false;
  }
  std::vector<std::string> lines;
  std::istringstream in(callstack);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  const std::size_t skip =
      lines.size() > kMaxTracebackLines ? lines.size() - kMaxTracebackLines : 0;
  report->traceback.assign(lines.begin() + static_cast<std::ptrdiff_t>(skip), lines.end());
  return !report->error.empty();
}

}  // namespace trainctl::agent
