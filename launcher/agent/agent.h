// One node of a job: joins rendezvous rounds, runs the node's workers, watches them and the
// other nodes, and restarts the group (or ends the job) when anything fails.
#ifndef TRAINCTL_AGENT_AGENT_H_
#define TRAINCTL_AGENT_AGENT_H_

#include <atomic>
#include <memory>
#include <string>

#include "launcher/spec/trainingjob.pb.h"
#include "rendezvous.h"
#include "terminal.h"
#include "train/env.h"
#include "train/store.h"

namespace trainctl::agent {

class MetricsCollector;

// Exit codes beyond the workers' own.
inline constexpr int kExitAgentError = 1;  // could not join, bad spec, store refused us
inline constexpr int kExitCommandNotFound = 127;

struct AgentOptions {
  trainctl::v1alpha1::TrainingJob job;  // validated, defaults applied
  std::string working_dir;              // where workers start (absolute)
  train::StoreAddress store;            // as workers reach it
  std::string token_file;               // absolute
  int node_rank_hint = -1;              // -1: by join order
  std::string run_dir;                  // rank-<N>.log files go here
  // This launch's id, proposed to the other agents (the first round settles the job's) and
  // given to workers as TRAIN_LAUNCH_ID.
  std::string launch_id;
  Milliseconds stop_grace{5000};        // SIGTERM, then SIGKILL after this
  MetricsCollector* metrics = nullptr;  // set by the agent: step reports, chaos, metrics.jsonl
};

class Agent {
 public:
  Agent(AgentOptions options, Terminal* terminal);
  ~Agent();

  // Runs the job to its end; returns the exit code: 0 when every worker of the last round
  // exited 0; the first failing worker's code (128+signal when killed) when the job failed;
  // 128+signal when stopped by RequestStop; kExitAgentError for the agent's own failures.
  int Run();

  // Stops the workers (SIGTERM, then SIGKILL after the grace; at once when `force`) and makes
  // Run return. Safe to call from another thread, more than once.
  void RequestStop(int signal, bool force);

  // Nodes in the last round this agent took part in (0 before the first).
  int last_round_nodes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_AGENT_H_
