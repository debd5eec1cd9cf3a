// The plain-Kubernetes workload: an Indexed Job, one pod per node, pod k named <job>-k.<job>.
#include "names.h"
#include "object_meta.h"
#include "objects.h"

namespace trainctl::k8s {

Node IndexedJob(const TrainingJob& job) {
  const std::string& name = job.metadata().name();
  const auto& spec = job.spec();
  const int nodes = spec.nodes().max();

  PodOptions pod;
  pod.subdomain = name;
  pod.args = AgentArgs(job, name + "-0." + name + ":" + std::to_string(spec.rendezvous().port()));

  Node job_spec = Node::Map();
  job_spec.Set("completionMode", "Indexed");
  job_spec.Set("completions", Node::Int(nodes));
  job_spec.Set("parallelism", Node::Int(nodes));
  // Kubernetes replaces a failed pod (its index) up to maxRestarts times; an elastic job may
  // lose max - min indexes for good and go on.
  job_spec.Set("backoffLimitPerIndex", Node::Int(spec.failure_policy().max_restarts()));
  job_spec.Set("maxFailedIndexes", Node::Int(nodes - spec.nodes().min()));
  // A replacement starts only once the old pod is gone, so two pods never share a DNS name.
  job_spec.Set("podReplacementPolicy", "Failed");
  job_spec.Set("podFailurePolicy", PodFailurePolicy(job, pod.container_name));
  if (!spec.active_deadline().empty()) {
    job_spec.Set("activeDeadlineSeconds", Node::Int(Seconds(spec.active_deadline())));
  }
  if (!spec.ttl_after_finished().empty()) {
    job_spec.Set("ttlSecondsAfterFinished", Node::Int(Seconds(spec.ttl_after_finished())));
  }
  if (spec.suspend()) job_spec.Set("suspend", Node::Bool(true));
  job_spec.Set("template", PodTemplate(job, pod));

  Node object = Node::Map();
  object.Set("apiVersion", "batch/v1");
  object.Set("kind", "Job");
  object.Set("metadata", ObjectMeta(job, name, /*workload=*/true));
  object.Set("spec", std::move(job_spec));
  return object;
}

}  // namespace trainctl::k8s
