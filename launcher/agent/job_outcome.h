// How a job ended. The first agent to know records it in the job's keys (kOutcomeKey); every
// agent, and trainctl run after them, take their exit code from it, so all nodes agree.
#ifndef TRAINCTL_AGENT_JOB_OUTCOME_H_
#define TRAINCTL_AGENT_JOB_OUTCOME_H_

#include <optional>
#include <string>

#include "train/store.h"

namespace trainctl::agent {

struct JobOutcome {
  static JobOutcome Succeeded() { return {0, ""}; }
  static JobOutcome Failed(int exit_code, std::string reason) {
    return {exit_code, std::move(reason)};
  }

  int exit_code = 0;   // 0: succeeded
  std::string reason;  // why it failed, for people; empty on success
};

// Records `outcome` unless an outcome is recorded already: the first one stands.
void RecordOutcome(train::Store* job_store, const JobOutcome& outcome);

// The exit code of the recorded outcome; nullopt when none is recorded (or the store cannot
// say); kExitAgentError for a record that does not parse.
std::optional<int> RecordedExitCode(train::Store* job_store);

// The record's text and back (JSON: {"status", "exit_code", "reason"}).
std::string EncodeOutcome(const JobOutcome& outcome);
int DecodeOutcomeExitCode(const std::string& text);

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_JOB_OUTCOME_H_
