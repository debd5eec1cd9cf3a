// Preemption in the agent: a SIGTERM (a Kubernetes eviction, a spot reclaim, a node drain) stops
// the workers politely within spec.failurePolicy.preemptionGrace so they can save their step,
// and a round that ends because workers were preempted restarts without spending a restart.
//
// Keys, relative to the round's prefix:
//   preempted/<rank>   the step rank <rank> saved on preemption (written by train::Trainer)
//   preempted          why the round ended as a preemption; set once, before its failure
//   preempted-counted  the round's preemption was added to the job's count
// and relative to the job's prefix:
//   preempted-restarts how many rounds preemption ended
#ifndef TRAINCTL_AGENT_PREEMPTION_H_
#define TRAINCTL_AGENT_PREEMPTION_H_

#include <optional>
#include <string>
#include <vector>

#include "failure_report.h"
#include "launcher/spec/trainingjob.pb.h"
#include "train/store.h"
#include "train/trainer.h"
#include "worker_group.h"

namespace trainctl::agent {

// What `trainctl run` and `trainctl agent` exit with when preemption stopped them: a first
// SIGTERM, after the workers had the grace to save. The workers exit with it too.
inline constexpr int kExitPreempted = train::kExitPreempted;

// The exit code of an agent stopped by `signal`: kExitPreempted for a first SIGTERM, else
// 128+signal (Ctrl-C: 130; a second signal, which kills the workers at once: 128+signal).
int StopExitCode(int signal, bool forced);

// spec.failurePolicy.preemptionGrace (30s when unset).
train::Milliseconds PreemptionGrace(const trainctl::v1alpha1::TrainingJobSpec& spec);

// The step rank `rank` recorded as saved on preemption ("57", or "57 unsaved" without a
// checkpoint directory); nullopt when it recorded none (its exit 75 was not a preemption).
std::optional<std::string> PreemptedStep(train::Store* round_store, int rank);

// "saved step 57", or what a trainer without a checkpoint directory recorded ("stopped at
// step 57 without saving ...").
std::string DescribeSavedStep(const std::string& recorded);

// What a node's preemption stop did, for the terminal: which ranks saved which step, and which
// had to be killed at the grace. `exits` are those WorkerGroup::Stop returned, `took` its time.
std::vector<std::string> DescribeNodeStop(train::Store* round_store, int node_rank, int nproc,
                                          const std::vector<WorkerExit>& exits,
                                          train::Milliseconds grace, train::Milliseconds took);

// Marks the round as ended by preemption; call it before recording the round's failure.
void MarkRoundPreempted(train::Store* round_store, const std::string& reason);

// Whether the round's recorded failure is a preemption (not a crash that came first).
bool RoundPreempted(train::Store* round_store, const FailureReport& recorded);

// Rounds ended by preemption: they restart the job without spending failurePolicy.maxRestarts.
// Counted once per round in the job's store, and remembered by each agent, so that the count
// survives a restart of the store's host as the restart count does.
class PreemptedRestarts {
 public:
  // Adds the round's preemption to the job's count (once, whichever agent gets there first).
  void CountRound(train::Store* round_store, train::Store* job_store);
  // How many restarts preemption caused so far.
  int Get(train::Store* job_store);

 private:
  int known_ = 0;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_PREEMPTION_H_
