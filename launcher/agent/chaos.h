// Chaos rules (`trainctl run --chaos ACTION:rank=R:step=S`): faults the agent injects into its
// own job so users can rehearse failures before they happen for real.
//
//   kill:rank=1:step=50        SIGKILL worker 1 the first time it reports step 50 (or later)
//   stop:rank=0:step=20        SIGSTOP worker 0 there: a hang the timeouts must catch
//   kill-agent:rank=2:step=30  SIGKILL the agent of the node that runs rank 2 (--nnodes >= 2)
//
// Each rule acts once per job: a restarted worker that reaches the step again is left alone.
// The agents of a job share what fired through the store (see MetricsCollector).
#ifndef TRAINCTL_AGENT_CHAOS_H_
#define TRAINCTL_AGENT_CHAOS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace trainctl::agent {

enum class ChaosAction { kKill, kStop, kKillAgent };

// "kill", "stop", "kill-agent".
std::string_view ChaosActionName(ChaosAction action);

struct ChaosRule {
  ChaosAction action = ChaosAction::kKill;
  int rank = 0;
  std::int64_t step = 0;

  // "kill:rank=1:step=5": what ParseChaosRule reads back.
  std::string ToString() const;
};

inline bool operator==(const ChaosRule& a, const ChaosRule& b) {
  return a.action == b.action && a.rank == b.rank && a.step == b.step;
}

// Parses one --chaos value. The error names the part that is wrong and shows a valid value.
train::Result<ChaosRule> ParseChaosRule(std::string_view text);

// Checks rules against the job: every rank exists (rank < workers), and kill-agent needs a job
// of 2 or more nodes (killing the only agent ends the job instead of rehearsing a node loss).
train::Status CheckChaosRules(const std::vector<ChaosRule>& rules, int max_workers, int max_nodes);

// One rule per line, for the store; DecodeChaosRules reads it back.
std::string EncodeChaosRules(const std::vector<ChaosRule>& rules);
train::Result<std::vector<ChaosRule>> DecodeChaosRules(std::string_view text);

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_CHAOS_H_
