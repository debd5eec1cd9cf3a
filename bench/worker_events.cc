#include "worker_events.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace bench {
namespace {

// The times of `kind` in attempt `restart`, or empty unless exactly ranks 0..world-1 recorded
// it once each.
std::vector<long long> AllRanks(const std::vector<WorkerEvent>& events, const std::string& kind,
                                int restart, int world) {
  std::vector<long long> times;
  std::set<int> ranks;
  for (const WorkerEvent& e : events) {
    if (e.kind != kind || e.restart != restart) continue;
    if (e.rank < 0 || e.rank >= world || !ranks.insert(e.rank).second) return {};
    times.push_back(e.ns);
  }
  if (static_cast<int>(ranks.size()) != world) return {};
  return times;
}

}  // namespace

train::Result<std::vector<WorkerEvent>> ReadEvents(const std::string& dir) {
  const std::string path = dir + "/events";
  std::vector<WorkerEvent> events;
  if (!std::filesystem::exists(path)) return events;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    WorkerEvent e;
    if (!(fields >> e.kind >> e.rank >> e.restart >> e.ns)) {
      return train::DataLossError(path + ": malformed line \"" + line + "\"");
    }
    events.push_back(std::move(e));
  }
  return events;
}

std::optional<long long> FirstOf(const std::vector<WorkerEvent>& events, const std::string& kind,
                                 int restart, int world) {
  std::vector<long long> times = AllRanks(events, kind, restart, world);
  if (times.empty()) return std::nullopt;
  return *std::min_element(times.begin(), times.end());
}

std::optional<long long> LastOf(const std::vector<WorkerEvent>& events, const std::string& kind,
                                int restart, int world) {
  std::vector<long long> times = AllRanks(events, kind, restart, world);
  if (times.empty()) return std::nullopt;
  return *std::max_element(times.begin(), times.end());
}

std::optional<long long> TimeOf(const std::vector<WorkerEvent>& events, const std::string& kind,
                                int rank, int restart) {
  for (const WorkerEvent& e : events) {
    if (e.kind == kind && e.rank == rank && e.restart == restart) return e.ns;
  }
  return std::nullopt;
}

}  // namespace bench
