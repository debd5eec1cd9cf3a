// How the agent sets up its MetricsCollector and tells it about rounds: kept out of agent.cc
// and round_runner.cc so that each of those needs only a line per event.
#ifndef TRAINCTL_AGENT_AGENT_METRICS_H_
#define TRAINCTL_AGENT_AGENT_METRICS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "agent.h"
#include "metrics_collector.h"
#include "rendezvous.h"
#include "round_runner.h"

namespace trainctl::agent {

// Starts the node's collector with the job-wide settings `trainctl run` left in the store (chaos
// rules, metrics port). Metrics never stop a job: when the collector cannot start, the agent
// says why and runs without it (nullptr).
std::unique_ptr<MetricsCollector> StartAgentMetrics(const AgentOptions& options,
                                                    train::Store* job_store, Terminal* terminal);

// "succeeded", "failed", "restart", "fenced", "stopped".
std::string RoundEndName(RoundEnd::Kind kind);

// RoundStarted with this node's ranks and the workers' pids (in the order of their ranks).
void NoteRoundStarted(MetricsCollector* metrics, const Round& round, int nproc,
                      const std::vector<pid_t>& pids);

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_AGENT_METRICS_H_
