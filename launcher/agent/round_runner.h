// One rendezvous round on one node: start the node's workers, watch them, the other nodes and
// the store, and end the round when the job succeeds, fails, or must restart.
#ifndef TRAINCTL_AGENT_ROUND_RUNNER_H_
#define TRAINCTL_AGENT_ROUND_RUNNER_H_

#include <atomic>
#include <mutex>
#include <string>
#include <utility>

#include "agent.h"
#include "preemption.h"
#include "rendezvous.h"
#include "terminal.h"
#include "worker_group.h"

namespace trainctl::agent {

class MetricsCollector;

struct RoundEnd {
  enum Kind {
    kSucceeded,  // every worker of every node exited 0
    kFailed,     // the job failed for good; exit_code says with what
    kRestart,    // the round ended early; the job goes on in a new round
    kFenced,     // this node lost the store; it stopped its workers and must rejoin
    kStopped,    // RequestStop
  };
  RoundEnd(Kind k = kFailed, int code = 0, std::string why = {})
      : kind(k), exit_code(code), reason(std::move(why)) {}
  Kind kind;
  int exit_code;
  std::string reason;  // kFenced: what this node saw
};

// What the agent makes for its rounds, beside the options it was given.
struct NodeResources {
  MetricsCollector* metrics = nullptr;  // step reports, chaos, metrics.jsonl; null: none
  // The node's snapshot directory in RAM (memory_dir.h) when the spec has checkpoint.memory,
  // given to workers as TRAIN_CHECKPOINT_MEMORY_DIR; empty: none.
  std::string memory_dir;
};

// Lets another thread kill the running workers at once (a second Ctrl-C), even while the
// round is busy stopping them politely.
class KillSwitch {
 public:
  void Arm(WorkerGroup* group);  // kills at once if already fired
  void Disarm();
  void Fire();  // SIGKILL to the armed group, now and to any group armed later

 private:
  std::mutex mutex_;
  WorkerGroup* group_ = nullptr;
  bool fired_ = false;
};

class RoundRunner {
 public:
  // `client` is the store client (unprefixed); it must outlive the runner.
  RoundRunner(const AgentOptions& options, const NodeResources& node, Terminal* terminal,
              train::Store* client, std::string host, KillSwitch* kill_switch);

  RoundEnd Run(const Round& round, const std::atomic<bool>& stop, const std::atomic<bool>& force);

  // The restarts before `round` that spent failurePolicy.maxRestarts: all of them but those
  // preemption caused.
  int RestartsSpent(const Round& round);

 private:
  const AgentOptions& options_;
  const NodeResources& node_;
  Terminal* terminal_;
  train::Store* client_;
  std::string host_;
  KillSwitch* kill_switch_;
  PreemptedRestarts preempted_restarts_;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_ROUND_RUNNER_H_
