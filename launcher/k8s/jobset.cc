// JobSet v1alpha2: one replicated Job of <nodes> indexed pods; the JobSet controller makes the
// headless Service and restarts the whole set (up to maxRestarts) when a pod fails.
#include "names.h"
#include "object_meta.h"
#include "objects.h"

namespace trainctl::k8s {

Node JobSet(const TrainingJob& job) {
  const std::string& name = job.metadata().name();
  const auto& spec = job.spec();
  const int nodes = spec.nodes().max();

  PodOptions pod;
  // JobSet names pod k of replicated job r, replica 0: <jobset>-<r>-0-<k>.<subdomain>.
  pod.args = AgentArgs(job, name + "-" + kJobSetReplicatedJob + "-0-0." + name + ":" +
                                std::to_string(spec.rendezvous().port()));

  Node job_spec = Node::Map();
  job_spec.Set("completionMode", "Indexed");
  job_spec.Set("completions", Node::Int(nodes));
  job_spec.Set("parallelism", Node::Int(nodes));
  // Any counted pod failure fails the child Job, and the JobSet restarts every pod together.
  job_spec.Set("backoffLimit", Node::Int(0));
  job_spec.Set("podFailurePolicy", PodFailurePolicy(job, pod.container_name));
  if (!spec.active_deadline().empty()) {
    job_spec.Set("activeDeadlineSeconds", Node::Int(Seconds(spec.active_deadline())));
  }
  job_spec.Set("template", PodTemplate(job, pod));

  Node job_template = Node::Map();
  Node job_meta = Node::Map();
  job_meta.Set("labels", JobLabels(job));
  job_template.Set("metadata", std::move(job_meta));
  job_template.Set("spec", std::move(job_spec));

  Node replicated = Node::Map();
  replicated.Set("name", kJobSetReplicatedJob);
  replicated.Set("replicas", Node::Int(1));
  replicated.Set("template", std::move(job_template));

  Node network = Node::Map();
  network.Set("enableDNSHostnames", Node::Bool(true));
  network.Set("subdomain", name);
  network.Set("publishNotReadyAddresses", Node::Bool(true));

  Node failure = Node::Map();
  failure.Set("maxRestarts", Node::Int(spec.failure_policy().max_restarts()));
  if (HasExitCodeRules(job)) {
    // The child Job failed through its podFailurePolicy (an exit code the spec says is final):
    // no restart.
    Node rule = Node::Map();
    rule.Set("name", "FinalExitCode");
    rule.Set("action", "FailJobSet");
    rule.Set("onJobFailureReasons", Node::List().Add(Node::Str("PodFailurePolicy")));
    failure.Set("rules", Node::List().Add(std::move(rule)));
  }

  Node set_spec = Node::Map();
  set_spec.Set("network", std::move(network));
  set_spec.Set("failurePolicy", std::move(failure));
  if (spec.suspend()) set_spec.Set("suspend", Node::Bool(true));
  if (!spec.ttl_after_finished().empty()) {
    set_spec.Set("ttlSecondsAfterFinished", Node::Int(Seconds(spec.ttl_after_finished())));
  }
  set_spec.Set("replicatedJobs", Node::List().Add(std::move(replicated)));

  Node object = Node::Map();
  object.Set("apiVersion", "jobset.x-k8s.io/v1alpha2");
  object.Set("kind", "JobSet");
  object.Set("metadata", ObjectMeta(job, name, /*workload=*/true));
  object.Set("spec", std::move(set_spec));
  return object;
}

}  // namespace trainctl::k8s
