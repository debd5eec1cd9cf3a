// Kubeflow PyTorchJob v1: a Master (node 0, which hosts the store) and nodes-1 Workers. The
// training operator sets MASTER_ADDR, MASTER_PORT and RANK, which the agent reads.
#include "names.h"
#include "object_meta.h"
#include "objects.h"

namespace trainctl::k8s {
namespace {

Node ReplicaSpec(const TrainingJob& job, int replicas) {
  PodOptions pod;
  pod.container_name = "pytorch";     // the operator looks for this container
  pod.port_name = "pytorchjob-port";  // and takes MASTER_PORT from this port
  pod.restart_policy = "OnFailure";   // restarted in place: pod 0 keeps its name and address
  pod.args = AgentArgs(job, "");
  pod.rank_from_completion_index = false;
  Node replica = Node::Map();
  replica.Set("replicas", Node::Int(replicas));
  replica.Set("restartPolicy", pod.restart_policy);
  replica.Set("template", PodTemplate(job, pod));
  return replica;
}

}  // namespace

Node PyTorchJob(const TrainingJob& job) {
  const auto& spec = job.spec();
  const int nodes = spec.nodes().max();

  Node run = Node::Map();
  run.Set("backoffLimit", Node::Int(spec.failure_policy().max_restarts()));
  if (!spec.active_deadline().empty()) {
    run.Set("activeDeadlineSeconds", Node::Int(Seconds(spec.active_deadline())));
  }
  if (!spec.ttl_after_finished().empty()) {
    run.Set("ttlSecondsAfterFinished", Node::Int(Seconds(spec.ttl_after_finished())));
  }
  if (spec.suspend()) run.Set("suspend", Node::Bool(true));
  const auto& scheduling = spec.scheduling();
  Node policy = Node::Map();
  if (!scheduling.queue().empty()) policy.Set("queue", scheduling.queue());
  if (!scheduling.priority_class_name().empty()) {
    policy.Set("priorityClass", scheduling.priority_class_name());
  }
  if (!policy.empty()) run.Set("schedulingPolicy", std::move(policy));

  Node replicas = Node::Map();
  replicas.Set("Master", ReplicaSpec(job, 1));
  if (nodes > 1) replicas.Set("Worker", ReplicaSpec(job, nodes - 1));

  Node object_spec = Node::Map();
  object_spec.Set("runPolicy", std::move(run));
  object_spec.Set("pytorchReplicaSpecs", std::move(replicas));

  Node object = Node::Map();
  object.Set("apiVersion", "kubeflow.org/v1");
  object.Set("kind", "PyTorchJob");
  object.Set("metadata", ObjectMeta(job, job.metadata().name(), /*workload=*/true));
  object.Set("spec", std::move(object_spec));
  return object;
}

}  // namespace trainctl::k8s
