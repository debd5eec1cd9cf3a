// One node of a job: joins rendezvous rounds, runs the node's workers, watches them and the
// other nodes, and restarts the group (or ends the job) when anything fails.
#ifndef TRAINCTL_AGENT_AGENT_H_
#define TRAINCTL_AGENT_AGENT_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "launcher/spec/trainingjob.pb.h"
#include "rendezvous.h"
#include "terminal.h"
#include "train/env.h"
#include "train/store.h"

namespace trainctl::agent {

class StoreFailover;

// Exit codes beyond the workers' own.
inline constexpr int kExitAgentError = 1;  // could not join, bad spec, store refused us
inline constexpr int kExitCommandNotFound = 127;

struct AgentOptions {
  trainctl::v1alpha1::TrainingJob job;  // validated, defaults applied
  std::string working_dir;              // where workers start (absolute)
  train::StoreAddress store;            // as workers reach it
  std::string token_file;               // absolute
  // The job's store is in this etcd cluster (spec.rendezvous.backend etcd); `store` is then
  // its first endpoint, and token_file may be empty.
  std::optional<train::EtcdConfig> etcd;
  int node_rank_hint = -1;  // -1: by join order
  std::string run_dir;      // rank-<N>.log files go here
  // This launch's id, proposed to the other agents (the first round settles the job's) and
  // given to workers as TRAIN_LAUNCH_ID.
  std::string launch_id;
  // SIGTERM, then SIGKILL after this, when a round ends for a failure (a stop by a signal or a
  // preemption waits spec.failurePolicy.preemptionGrace instead).
  Milliseconds stop_grace{5000};
  // Moves the built-in store to a surviving node when its host is lost (null: never; the
  // agent then waits for the store to come back at its address).
  StoreFailover* failover = nullptr;
};

class Agent {
 public:
  Agent(AgentOptions options, Terminal* terminal);
  ~Agent();

  // Runs the job to its end; returns the exit code: 0 when every worker of the last round
  // exited 0; the first failing worker's code (128+signal when killed) when the job failed;
  // when stopped by RequestStop, kExitPreempted (75) for SIGTERM, else 128+signal (and
  // 128+signal when forced); kExitAgentError for the agent's own failures.
  int Run();

  // Stops the workers and makes Run return: SIGTERM to each, up to the spec's
  // failurePolicy.preemptionGrace for them to save their step and exit, then SIGKILL; at once
  // when `force`. The other nodes restart the job without spending a restart. Safe to call
  // from another thread, more than once.
  void RequestStop(int signal, bool force);

  // Nodes in the last round this agent took part in (0 before the first).
  int last_round_nodes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_AGENT_H_
