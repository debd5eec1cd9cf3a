#include "job_status.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace trainctl::k8s {
namespace {

using nlohmann::json;

std::string Str(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

int Int(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int>() : 0;
}

const json& Child(const json& object, const char* key) {
  static const json kEmpty = json::object();
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

const json& Items(const json& object, const char* key) {
  static const json kEmpty = json::array();
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

bool HasCondition(const json& status, const std::string& type, std::string* message = nullptr) {
  for (const json& condition : Items(status, "conditions")) {
    if (Str(condition, "type") == type && Str(condition, "status") == "True") {
      if (message) *message = Str(condition, "message");
      return true;
    }
  }
  return false;
}

int ParseIndex(const std::string& text) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoi(text);
}

int NodeRank(const json& meta) {
  const json& labels = Child(meta, "labels");
  const json& annotations = Child(meta, "annotations");
  const char* kIndex = "batch.kubernetes.io/job-completion-index";
  if (int rank = ParseIndex(Str(annotations, kIndex)); rank >= 0) return rank;
  if (int rank = ParseIndex(Str(labels, kIndex)); rank >= 0) return rank;
  // PyTorchJob: the Master is node 0, Worker i is node i + 1.
  const std::string type = Str(labels, "training.kubeflow.org/replica-type");
  const int index = ParseIndex(Str(labels, "training.kubeflow.org/replica-index"));
  if (type == "master" && index >= 0) return index;
  if (type == "worker" && index >= 0) return index + 1;
  return -1;
}

PodState ParsePod(const json& pod) {
  const json& meta = Child(pod, "metadata");
  const json& spec = Child(pod, "spec");
  const json& status = Child(pod, "status");
  PodState state;
  state.name = Str(meta, "name");
  state.node_rank = NodeRank(meta);
  state.phase = Str(status, "phase");
  state.ready = HasCondition(status, "Ready");
  state.node = Str(spec, "nodeName");
  state.reason = Str(status, "reason");
  for (const json& container : Items(spec, "containers")) {
    const std::string name = Str(container, "name");
    if (name == "trainer" || name == "pytorch") state.container = name;
  }
  for (const json& container : Items(status, "containerStatuses")) {
    state.restarts += Int(container, "restartCount");
    if (Str(container, "name") != state.container) continue;
    const json& current = Child(container, "state");
    const std::string waiting = Str(Child(current, "waiting"), "reason");
    const std::string terminated = Str(Child(current, "terminated"), "reason");
    if (!waiting.empty()) state.reason = waiting;
    if (!terminated.empty()) {
      state.reason = terminated + " (exit " +
                     std::to_string(Int(Child(current, "terminated"), "exitCode")) + ")";
    }
  }
  return state;
}

bool IsGone(const PodState& pod) { return pod.phase == "Failed" || pod.phase == "Succeeded"; }

}  // namespace

train::Result<JobState> ParseJobState(std::string_view kubectl_json, const std::string& job) {
  json list = json::parse(kubectl_json, nullptr, /*allow_exceptions=*/false);
  if (list.is_discarded() || !list.is_object()) {
    return train::InvalidArgumentError("kubectl's output is not JSON: " +
                                       std::string(kubectl_json.substr(0, 200)));
  }
  JobState state;
  state.name = job;
  int failed_pods_by_jobs = 0;
  bool any_job = false, complete = false, failed = false, suspended = false;
  for (const json& item : Items(list, "items")) {
    const std::string kind = Str(item, "kind");
    if (kind == "Job") {
      any_job = true;
      const json& spec = Child(item, "spec");
      const json& status = Child(item, "status");
      state.nodes += Int(spec, "parallelism");
      failed_pods_by_jobs += Int(status, "failed");
      std::string message;
      if (HasCondition(status, "Failed", &message)) {
        failed = true;
        state.message = message;
      }
      complete |= HasCondition(status, "Complete");
      suspended |= HasCondition(status, "Suspended");
    } else if (kind == "Pod") {
      state.pods.push_back(ParsePod(item));
    }
  }
  if (!any_job && state.pods.empty()) {
    return train::NotFoundError("no Job and no pod has the label trainctl.dev/job-name=" + job);
  }
  std::sort(state.pods.begin(), state.pods.end(), [](const PodState& a, const PodState& b) {
    if (a.node_rank != b.node_rank) return a.node_rank < b.node_rank;
    if (IsGone(a) != IsGone(b)) return !IsGone(a);
    return a.name < b.name;
  });
  int failed_pods = 0, in_place = 0;
  for (const PodState& pod : state.pods) {
    failed_pods += pod.phase == "Failed";
    in_place += pod.restarts;
  }
  for (const auto& [rank, pod] : CurrentPods(state)) state.ready += pod->ready;
  if (!any_job) state.nodes = static_cast<int>(CurrentPods(state).size());
  state.restarts = std::max(failed_pods, failed_pods_by_jobs) + in_place;
  bool all_succeeded = !state.pods.empty();
  bool any_running = false;
  for (const auto& [rank, pod] : CurrentPods(state)) {
    all_succeeded &= pod->phase == "Succeeded";
    any_running |= pod->phase == "Running";
  }
  if (failed) {
    state.phase = "Failed";
  } else if (complete || (!any_job && all_succeeded)) {
    state.phase = "Succeeded";
  } else if (suspended) {
    state.phase = "Suspended";
  } else if (state.nodes > 0 && state.ready >= state.nodes) {
    state.phase = "Running";
  } else if (any_running) {
    state.phase = "Starting";
  } else {
    state.phase = "Pending";
  }
  return state;
}

std::map<int, const PodState*> CurrentPods(const JobState& state) {
  std::map<int, const PodState*> current;
  for (const PodState& pod : state.pods) current.emplace(pod.node_rank, &pod);  // first wins
  return current;
}

std::string FormatJobState(const JobState& state) {
  std::string out = state.name + ": " + state.phase + ", " + std::to_string(state.ready) + "/" +
                    std::to_string(state.nodes) + " nodes ready, " +
                    std::to_string(state.restarts) +
                    (state.restarts == 1 ? " restart" : " restarts") + "\n";
  if (!state.message.empty()) out += "  " + state.message + "\n";
  if (state.pods.empty()) return out;
  std::size_t width = 3;
  for (const PodState& pod : state.pods) width = std::max(width, pod.name.size());
  char line[512];
  std::snprintf(line, sizeof(line), "%-5s %-*s %-10s %-6s %-9s %s\n", "NODE",
                static_cast<int>(width), "POD", "PHASE", "READY", "RESTARTS", "ON / REASON");
  out += line;
  for (const PodState& pod : state.pods) {
    const std::string rank = pod.node_rank >= 0 ? std::to_string(pod.node_rank) : "?";
    std::string where = pod.node.empty() ? "-" : pod.node;
    if (!pod.reason.empty()) where += " (" + pod.reason + ")";
    std::snprintf(line, sizeof(line), "%-5s %-*s %-10s %-6s %-9d %s\n", rank.c_str(),
                  static_cast<int>(width), pod.name.c_str(), pod.phase.c_str(),
                  pod.ready ? "yes" : "no", pod.restarts, where.c_str());
    out += line;
  }
  return out;
}

std::string NodePrefix(int node_rank) {
  return "[node " + (node_rank >= 0 ? std::to_string(node_rank) : std::string("?")) + "] ";
}

std::string RankPrefixedLine(std::string_view line, const std::map<std::string, int>& pods) {
  constexpr std::string_view kStart = "[pod/";
  if (line.substr(0, kStart.size()) != kStart) return std::string(line);
  const std::size_t close = line.find("] ");
  const std::size_t slash = line.find('/', kStart.size());
  if (close == std::string_view::npos || slash == std::string_view::npos || slash > close) {
    return std::string(line);
  }
  const std::string pod(line.substr(kStart.size(), slash - kStart.size()));
  const std::string_view text = line.substr(close + 2);
  auto it = pods.find(pod);
  if (it == pods.end()) return "[" + pod + "] " + std::string(text);
  return NodePrefix(it->second) + std::string(text);
}

}  // namespace trainctl::k8s
