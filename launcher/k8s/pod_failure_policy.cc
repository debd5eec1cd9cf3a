// The Job's podFailurePolicy: evictions, preemptions and node drains (DisruptionTarget) are
// not the job's fault and do not count against its restarts, nor is an agent that SIGTERM
// stopped (exit 75: its workers saved their step), which a deletion or a drain without the
// condition gives; the spec's exit-code rules decide which failures end the job at once.
#include <algorithm>
#include <vector>

#include "objects.h"
#include "train/trainer.h"

namespace trainctl::k8s {
namespace {

Node ExitCodeRule(const std::string& container_name, const std::string& op,
                  const google::protobuf::RepeatedField<int>& codes) {
  std::vector<int> sorted(codes.begin(), codes.end());
  std::sort(sorted.begin(), sorted.end());  // the API server wants them in increasing order
  Node values = Node::List();
  for (int code : sorted) values.Add(Node::Int(code));
  Node on_exit = Node::Map();
  on_exit.Set("containerName", container_name);
  on_exit.Set("operator", op);
  on_exit.Set("values", std::move(values));
  Node rule = Node::Map();
  rule.Set("action", "FailJob");
  rule.Set("onExitCodes", std::move(on_exit));
  return rule;
}

}  // namespace

bool HasExitCodeRules(const TrainingJob& job) {
  const auto& policy = job.spec().failure_policy();
  return policy.fail_on_exit_codes_size() > 0 || policy.restart_on_exit_codes_size() > 0;
}

Node PodFailurePolicy(const TrainingJob& job, const std::string& container_name) {
  Node condition = Node::Map();
  condition.Set("type", "DisruptionTarget");
  condition.Set("status", "True");
  Node ignore = Node::Map();
  ignore.Set("action", "Ignore");
  ignore.Set("onPodConditions", Node::List().Add(std::move(condition)));
  Node rules = Node::List();
  rules.Add(std::move(ignore));
  // Before the exit-code rules: the first rule that matches decides.
  Node preempted = Node::Map();
  preempted.Set("containerName", container_name);
  preempted.Set("operator", "In");
  preempted.Set("values", Node::List().Add(Node::Int(train::kExitPreempted)));
  Node ignore_preempted = Node::Map();
  ignore_preempted.Set("action", "Ignore");
  ignore_preempted.Set("onExitCodes", std::move(preempted));
  rules.Add(std::move(ignore_preempted));

  const auto& policy = job.spec().failure_policy();
  if (policy.fail_on_exit_codes_size() > 0) {
    rules.Add(ExitCodeRule(container_name, "In", policy.fail_on_exit_codes()));
  }
  // Only the listed codes are worth a restart: any other failure ends the job.
  if (policy.restart_on_exit_codes_size() > 0) {
    rules.Add(ExitCodeRule(container_name, "NotIn", policy.restart_on_exit_codes()));
  }
  Node result = Node::Map();
  result.Set("rules", std::move(rules));
  return result;
}

}  // namespace trainctl::k8s
