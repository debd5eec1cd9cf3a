// The agent's side of the step reports: a Unix datagram socket its workers send to (named to
// them by TRAIN_METRICS_SOCKET), a Prometheus endpoint, the run directory's metrics.jsonl, and
// the --chaos rules, applied as the reports arrive.
//
// metrics.jsonl gets one JSON object per line: {"type":"step", ...} for each report, and the
// job's events: agent_start, rendezvous_start, round_start, round_end (with the restart's
// reason), chaos, job_end. docs/metrics.md lists every field. The agents of a multi-node job
// running on one machine append to the same file (one write per line, O_APPEND).
#ifndef TRAINCTL_AGENT_METRICS_COLLECTOR_H_
#define TRAINCTL_AGENT_METRICS_COLLECTOR_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chaos.h"
#include "metrics_http.h"
#include "metrics_registry.h"
#include "terminal.h"
#include "train/status.h"
#include "train/store.h"

namespace trainctl::agent {

// The job-wide settings `trainctl run` puts in the store for every agent (key kMetricsConfigKey
// under the job's prefix): the --chaos rules and the --metrics-port.
inline constexpr char kMetricsConfigKey[] = "metrics/config";
struct MetricsConfig {
  std::vector<ChaosRule> chaos;
  int port = 0;  // node k serves port + k; 0: an ephemeral port per node
  std::string ToJson() const;
  static train::Result<MetricsConfig> FromJson(const std::string& text);
};

struct MetricsOptions {
  std::string job;
  std::string run_dir;
  int node_hint = -1;  // the agent's --node-rank; -1 when it has none (names its port file)
  std::string http_host = "127.0.0.1";
  int http_port = 0;
  std::vector<ChaosRule> chaos;
  // The job's store (job-prefixed): which chaos rules already fired, and restart reasons.
  // May be null (rules then act once per agent).
  train::Store* job_store = nullptr;
  // What the job holds, for the cost summary: "gpu" or "core", per node, and nodes at most.
  std::string unit = "core";
  double units_per_node = 1;
  int max_nodes = 1;
  // How a chaos rule signals a worker's process group, and kills this agent. Tests of the
  // collector replace them so that nothing real is killed.
  std::function<void(pid_t, int)> signal_worker;
  std::function<void()> kill_agent;
};

class MetricsCollector {
 public:
  // Binds the socket (RUN_DIR/metrics-<pid>.sock, or under /tmp when that path is too long for
  // a socket) and the HTTP port, writes the port to RUN_DIR/metrics.port (metrics-node-K.port
  // for node K > 0), and prints where /metrics is.
  static train::Result<std::unique_ptr<MetricsCollector>> Start(MetricsOptions options,
                                                                Terminal* terminal);
  ~MetricsCollector();
  MetricsCollector(const MetricsCollector&) = delete;
  MetricsCollector& operator=(const MetricsCollector&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  int http_port() const;
  std::string Prometheus() const { return registry_.Prometheus(); }

  // Events, written to metrics.jsonl as they happen.
  void RendezvousStarted();
  // `pids` maps this node's ranks to their worker processes (the only ones chaos may signal).
  void RoundStarted(std::int64_t round, int node_rank, int nodes, int workers, int restart_count,
                    const std::map<int, pid_t>& pids);
  // `outcome`: "succeeded", "failed", "restart", "fenced", "stopped"; the restart's reason is
  // read from the round's store keys.
  void RoundEnded(std::int64_t round, const std::string& outcome);
  void JobEnded(int exit_code);

  // The latest step rank `rank` of this node's current round reported (a step report or its
  // progress); nullopt before its first.
  std::optional<std::int64_t> LatestStep(int rank) const;

  // Waits until every datagram already sent to the socket was handled (tests).
  void Drain();

 private:
  MetricsCollector(MetricsOptions options, Terminal* terminal);
  void Receive();
  void Handle(const std::string& datagram);
  void NoteStep(const WorkerReport& report);
  void ApplyChaos(const WorkerReport& report);
  bool Claim(std::size_t index, const std::string& what);
  void Append(const std::string& line);
  void Say(const std::string& line);

  MetricsOptions options_;
  Terminal* terminal_;
  MetricsRegistry registry_;
  std::unique_ptr<MetricsHttpServer> http_;
  std::string socket_path_;
  std::string jsonl_path_;
  int socket_fd_ = -1;
  int jsonl_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;

  mutable std::mutex mutex_;  // guards what follows
  std::map<int, pid_t> pids_;
  std::map<int, std::int64_t> latest_step_;  // by rank, this round
  std::int64_t round_ = -1;
  int node_rank_ = -1;
  std::set<std::size_t> fired_;  // chaos rules this agent knows have fired
  std::int64_t handled_ = 0;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_METRICS_COLLECTOR_H_
