// The pod every format runs: `trainctl agent` with the spec and token mounted, the spec's
// resources (requests equal to limits), a memory-backed /dev/shm, and a restrictive security
// context. No hostPath and no hostNetwork, so the pods also run on virtual nodes.
#include "names.h"
#include "object_meta.h"
#include "objects.h"

namespace trainctl::k8s {
namespace {

namespace v1 = trainctl::v1alpha1;

// The trainer image runs as this user (Containerfile); fsGroup lets it read the 0400 token.
constexpr std::int64_t kTrainerUid = 1000;
// What the agent needs after the workers' grace: SIGKILL and reap what is left (a process in
// uninterruptible sleep dies late), tell the store it leaves, and, on node 0, keep serving the
// store up to 5 s until the other nodes have left.
constexpr std::int64_t kAgentStopMarginSeconds = 10;
constexpr std::int64_t kTokenFileMode = 0400;

Node EnvValue(const std::string& name, const std::string& value) {
  Node env = Node::Map();
  env.Set("name", name);
  env.Set("value", value);
  return env;
}

Node Env(const TrainingJob& job, const PodOptions& options) {
  Node env = Node::List();
  if (options.rank_from_completion_index) {
    Node field = Node::Map();
    field.Set("fieldPath",
              std::string("metadata.annotations['") + kCompletionIndexAnnotation + "']");
    Node from = Node::Map();
    from.Set("fieldRef", std::move(field));
    Node rank = Node::Map();
    rank.Set("name", "TRAINCTL_NODE_RANK");
    rank.Set("valueFrom", std::move(from));
    env.Add(std::move(rank));
  }
  env.Add(EnvValue("TRAINCTL_JOB_NAME", job.metadata().name()));
  for (const v1::EnvVar& var : job.spec().env()) env.Add(EnvValue(var.name(), var.value()));
  return env;
}

Node Resources(const v1::Resources& res) {
  Node amounts = Node::Map();
  if (!res.cpu().empty()) amounts.Set("cpu", res.cpu());
  if (!res.memory().empty()) amounts.Set("memory", res.memory());
  if (res.gpus() > 0) amounts.Set(res.gpu_resource(), Node::Int(res.gpus()));
  Node resources = Node::Map();
  if (amounts.empty()) return resources;
  // Device plugins need requests == limits; for cpu and memory it makes the pod Guaranteed.
  resources.Set("requests", amounts);
  resources.Set("limits", amounts);
  return resources;
}

Node Mount(const std::string& name, const std::string& path, bool read_only) {
  Node mount = Node::Map();
  mount.Set("name", name);
  mount.Set("mountPath", path);
  if (read_only) mount.Set("readOnly", Node::Bool(true));
  return mount;
}

Node VolumeMounts(const TrainingJob& job) {
  Node mounts = Node::List();
  mounts.Add(Mount("trainctl-token", kTokenDir, true));
  mounts.Add(Mount("trainctl-spec", kSpecDir, true));
  mounts.Add(Mount("trainctl-shm", kShmDir, false));
  mounts.Add(Mount("trainctl-run", kRunDir, false));
  for (const v1::Volume& volume : job.spec().storage().volumes()) {
    mounts.Add(Mount(volume.name(), volume.mount_path(), volume.read_only()));
  }
  return mounts;
}

Node Volume(const std::string& name, const std::string& source, Node value) {
  Node volume = Node::Map();
  volume.Set("name", name);
  volume.Set(source, std::move(value));
  return volume;
}

Node Volumes(const TrainingJob& job) {
  const std::string& name = job.metadata().name();
  Node volumes = Node::List();
  Node secret = Node::Map();
  secret.Set("secretName", TokenSecretName(name));
  secret.Set("defaultMode", Node::Int(kTokenFileMode));
  volumes.Add(Volume("trainctl-token", "secret", std::move(secret)));
  Node config = Node::Map();
  config.Set("name", SpecConfigMapName(name));
  volumes.Add(Volume("trainctl-spec", "configMap", std::move(config)));
  // The container runtime's /dev/shm is 64Mi: too small for the shared-memory collectives.
  Node shm = Node::Map();
  shm.Set("medium", "Memory");
  if (!job.spec().resources().shm_size().empty()) {
    shm.Set("sizeLimit", job.spec().resources().shm_size());
  }
  volumes.Add(Volume("trainctl-shm", "emptyDir", std::move(shm)));
  volumes.Add(Volume("trainctl-run", "emptyDir", Node::Map()));
  for (const v1::Volume& volume : job.spec().storage().volumes()) {
    if (!volume.persistent_volume_claim().empty()) {
      Node claim = Node::Map();
      claim.Set("claimName", volume.persistent_volume_claim());
      if (volume.read_only()) claim.Set("readOnly", Node::Bool(true));
      volumes.Add(Volume(volume.name(), "persistentVolumeClaim", std::move(claim)));
    } else {
      // hostPath never gets here: CheckRenderable refuses it.
      volumes.Add(Volume(volume.name(), "emptyDir", Node::Map()));
    }
  }
  return volumes;
}

Node PodSecurityContext() {
  Node seccomp = Node::Map();
  seccomp.Set("type", "RuntimeDefault");
  Node context = Node::Map();
  context.Set("runAsNonRoot", Node::Bool(true));
  context.Set("runAsUser", Node::Int(kTrainerUid));
  context.Set("runAsGroup", Node::Int(kTrainerUid));
  context.Set("fsGroup", Node::Int(kTrainerUid));
  context.Set("seccompProfile", std::move(seccomp));
  return context;
}

Node ContainerSecurityContext() {
  Node capabilities = Node::Map();
  capabilities.Set("drop", Node::List().Add(Node::Str("ALL")));
  Node context = Node::Map();
  context.Set("allowPrivilegeEscalation", Node::Bool(false));
  context.Set("capabilities", std::move(capabilities));
  return context;
}

Node Container(const TrainingJob& job, const PodOptions& options) {
  Node container = Node::Map();
  container.Set("name", options.container_name);
  container.Set("image", job.spec().image());
  container.Set("command", Node::List().Add(Node::Str("trainctl")).Add(Node::Str("agent")));
  Node args = Node::List();
  for (const std::string& arg : options.args) args.Add(Node::Str(arg));
  container.Set("args", std::move(args));
  container.Set("env", Env(job, options));
  Node port = Node::Map();
  port.Set("name", options.port_name);
  port.Set("containerPort", Node::Int(job.spec().rendezvous().port()));
  port.Set("protocol", "TCP");
  container.Set("ports", Node::List().Add(std::move(port)));
  Node resources = Resources(job.spec().resources());
  if (!resources.empty()) container.Set("resources", std::move(resources));
  container.Set("volumeMounts", VolumeMounts(job));
  container.Set("securityContext", ContainerSecurityContext());
  return container;
}

}  // namespace

std::int64_t TerminationGracePeriodSeconds(const TrainingJob& job) {
  const std::string& grace = job.spec().failure_policy().preemption_grace();
  return (grace.empty() ? 30 : Seconds(grace)) + kAgentStopMarginSeconds;
}

std::vector<std::string> AgentArgs(const TrainingJob& job, const std::string& store) {
  std::vector<std::string> args = {kSpecFile};
  if (!store.empty()) {
    args.insert(args.end(), {"--store", store, "--node-rank", "$(TRAINCTL_NODE_RANK)"});
  }
  args.insert(args.end(), {"--host-store", "auto", "--token-file", kTokenFile, "--run-dir", kRunDir,
                           "--working-dir", job.spec().working_dir()});
  return args;
}

Node PodTemplate(const TrainingJob& job, const PodOptions& options) {
  Node meta = Node::Map();
  meta.Set("labels", JobLabels(job));
  Node annotations = JobAnnotations(job);
  if (!annotations.empty()) meta.Set("annotations", std::move(annotations));

  Node pod = Node::Map();
  if (!options.subdomain.empty()) pod.Set("subdomain", options.subdomain);
  pod.Set("restartPolicy", options.restart_policy);
  // The kubelet sends the agent SIGTERM, then SIGKILL after this: the workers' grace to save
  // their step (spec.failurePolicy.preemptionGrace), then the agent's own cleanup.
  pod.Set("terminationGracePeriodSeconds", Node::Int(TerminationGracePeriodSeconds(job)));
  // The agent talks to its store, never to the API server or to other services.
  pod.Set("automountServiceAccountToken", Node::Bool(false));
  pod.Set("enableServiceLinks", Node::Bool(false));
  pod.Set("securityContext", PodSecurityContext());
  SetScheduling(job, &pod);
  pod.Set("containers", Node::List().Add(Container(job, options)));
  pod.Set("volumes", Volumes(job));

  Node tmpl = Node::Map();
  tmpl.Set("metadata", std::move(meta));
  tmpl.Set("spec", std::move(pod));
  return tmpl;
}

}  // namespace trainctl::k8s
