// One builder per object kind; render.cc puts them together for each format.
#ifndef TRAINCTL_K8S_OBJECTS_H_
#define TRAINCTL_K8S_OBJECTS_H_

#include <string>
#include <vector>

#include "launcher/spec/trainingjob.pb.h"
#include "manifest_node.h"

namespace trainctl::k8s {

using trainctl::v1alpha1::TrainingJob;

// Secret <job>-token holding `token` under the key "token".
Node TokenSecret(const TrainingJob& job, const std::string& token);

// ConfigMap <job>-spec holding the spec, defaults filled in, under the key "job.yaml".
Node SpecConfigMap(const TrainingJob& job);

// Headless Service <job> that gives pod k the name <job>-k.<job>, before it is ready.
Node HeadlessService(const TrainingJob& job);

// How the pods of one format differ.
struct PodOptions {
  std::string container_name = "trainer";
  std::string port_name = "rendezvous";
  std::string restart_policy = "Never";
  std::string subdomain;                   // empty: the controller sets it (JobSet)
  std::vector<std::string> args;           // `trainctl agent` arguments
  bool rank_from_completion_index = true;  // TRAINCTL_NODE_RANK from the Job's index
};

// A pod template: {metadata, spec} with the trainer container, volumes, scheduling and the
// security context.
Node PodTemplate(const TrainingJob& job, const PodOptions& options);

// The pod's terminationGracePeriodSeconds: spec.failurePolicy.preemptionGrace rounded up to
// seconds, plus a margin for the agent's cleanup after it.
std::int64_t TerminationGracePeriodSeconds(const TrainingJob& job);

// The agent's arguments; `store` empty leaves the store and node rank to the environment
// (PyTorchJob's MASTER_ADDR, MASTER_PORT and RANK). spec.workingDir goes in --working-dir, so a
// relative one is taken from the image's working directory, not the spec's read-only mount.
std::vector<std::string> AgentArgs(const TrainingJob& job, const std::string& store);

// The pod-level placement fields (nodeSelector, affinity, tolerations, ...) set into `pod`.
void SetScheduling(const TrainingJob& job, Node* pod);

// {rules: [...]}: ignore disruptions and preempted agents (exit 75); the spec's exit codes
// that fail the job at once.
Node PodFailurePolicy(const TrainingJob& job, const std::string& container_name);
bool HasExitCodeRules(const TrainingJob& job);

// The workloads.
Node IndexedJob(const TrainingJob& job);
Node JobSet(const TrainingJob& job);
Node PyTorchJob(const TrainingJob& job);

// Seconds of a validated duration, rounded up (0 for an empty one).
std::int64_t Seconds(const std::string& duration);

}  // namespace trainctl::k8s

#endif  // TRAINCTL_K8S_OBJECTS_H_
