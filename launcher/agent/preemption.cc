#include "preemption.h"

#include <algorithm>
#include <csignal>
#include <map>

#include "duration.h"
#include "train/defaults.h"

namespace trainctl::agent {
namespace {

constexpr char kPreemptedKey[] = "preempted";
constexpr char kCountedKey[] = "preempted-counted";
constexpr char kJobCountKey[] = "preempted-restarts";

}  // namespace

int StopExitCode(int signal, bool forced) {
  if (signal == SIGTERM && !forced) return kExitPreempted;
  return 128 + signal;
}

train::Milliseconds PreemptionGrace(const trainctl::v1alpha1::TrainingJobSpec& spec) {
  const std::string& text = spec.failure_policy().preemption_grace();
  return text.empty() ? train::defaults::kPreemptionGrace : spec::ValidatedMillis(text);
}

std::optional<std::string> PreemptedStep(train::Store* round_store, int rank) {
  auto step = round_store->TryGet(train::PreemptedStepKey(rank));
  if (!step.ok() || !*step) return std::nullopt;
  return **step;
}

std::string DescribeSavedStep(const std::string& recorded) {
  const std::size_t space = recorded.find(' ');
  if (space == std::string::npos) return "saved step " + recorded;
  return "stopped at step " + recorded.substr(0, space) + " without saving (no checkpoint dir)";
}

std::vector<std::string> DescribeNodeStop(train::Store* round_store, int node_rank, int nproc,
                                          const std::vector<WorkerExit>& exits,
                                          train::Milliseconds grace, train::Milliseconds took) {
  const std::string node = "node " + std::to_string(node_rank);
  std::vector<std::string> lines;
  std::string killed;
  for (const WorkerExit& exit : exits) {
    if (exit.signal == SIGKILL) killed += (killed.empty() ? "" : ",") + std::to_string(exit.rank);
  }
  if (!killed.empty()) {
    lines.push_back(node + ": rank(s) " + killed + " did not stop within preemptionGrace (" +
                    spec::FormatDuration(grace) +
                    "): killed (SIGKILL); the job resumes from their last committed checkpoint");
  }
  std::map<std::string, std::string> saved;  // what was recorded -> its ranks
  for (int local = 0; local < nproc; ++local) {
    const int rank = node_rank * nproc + local;
    if (auto step = PreemptedStep(round_store, rank)) {
      std::string& ranks = saved[DescribeSavedStep(*step)];
      ranks += (ranks.empty() ? "" : ",") + std::to_string(rank);
    }
  }
  for (const auto& [what, ranks] : saved) {
    lines.push_back(node + ": rank(s) " + ranks + " " + what + " and stopped in " +
                    std::to_string(took.count()) + " ms");
  }
  return lines;
}

void MarkRoundPreempted(train::Store* round_store, const std::string& reason) {
  (void)round_store->CompareSet(kPreemptedKey, std::nullopt, reason);
}

bool RoundPreempted(train::Store* round_store, const FailureReport& recorded) {
  if (recorded.exit_code != kExitPreempted) return false;
  auto marked = round_store->TryGet(kPreemptedKey);
  return marked.ok() && marked->has_value();
}

void PreemptedRestarts::CountRound(train::Store* round_store, train::Store* job_store) {
  ++known_;
  // The agent whose Add makes it 1 counts the round for the job.
  auto arrived = round_store->Add(kCountedKey, 1);
  if (arrived.ok() && *arrived == 1) (void)job_store->Add(kJobCountKey, 1);
}

int PreemptedRestarts::Get(train::Store* job_store) {
  auto stored = job_store->Add(kJobCountKey, 0);
  if (stored.ok()) known_ = std::max(known_, static_cast<int>(*stored));
  return known_;
}

}  // namespace trainctl::agent
