// Each spec field's mapping onto the rendered objects, read back with yaml-cpp.
#include "launcher/k8s/render.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "launcher/spec/job_file.h"

namespace trainctl::k8s {
namespace {

const std::string kToken(64, 'a');

constexpr char kFullSpec[] = R"(apiVersion: trainctl.dev/v1alpha1
kind: TrainingJob
metadata:
  name: llm
  namespace: research
  labels: {team: nlp}
  annotations: {trainctl.dev/owner: infra}
spec:
  command: [/opt/train/bin/pretrain, --steps, "100"]
  image: registry.example.com/trainer:1.0
  env: [{name: NCCL_DEBUG, value: WARN}, {name: OMP_NUM_THREADS, value: "1"}]
  nodes: {min: 2, max: 4}
  resources: {cpu: "16", memory: 200Gi, gpus: 2, gpuResource: nvidia.com/mig-1g.10gb, shmSize: 8Gi}
  scheduling:
    nodeSelector: {nvidia.com/mig.config: all-1g.10gb}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    affinity:
      requiredNodeExpressions: [{key: nvidia.com/gpu.product, operator: In, values: [A100]}]
      podsApartBy: kubernetes.io/hostname
    topologySpread: [{topologyKey: topology.kubernetes.io/zone}]
    priorityClassName: training-high
    schedulerName: volcano
    queue: gpu-queue
  rendezvous: {port: 29500}
  failurePolicy: {maxRestarts: 7, restartOnExitCodes: [137, 1], failOnExitCodes: [3, 2]}
  storage:
    volumes:
      - {name: ckpt, persistentVolumeClaim: ckpt-pvc, mountPath: /ckpt}
      - {name: data, persistentVolumeClaim: data-pvc, mountPath: /data, readOnly: true}
      - {name: scratch, emptyDir: true, mountPath: /scratch}
  ttlAfterFinished: 1h
  activeDeadline: 90m
  suspend: true
)";

trainctl::v1alpha1::TrainingJob Load(const std::string& text) {
  spec::JobFile file = spec::ParseJob(text, "job.yaml");
  EXPECT_TRUE(file.ok()) << file.FormatErrors();
  return file.job;
}

std::vector<YAML::Node> RenderDocs(const std::string& text, Format format) {
  RenderOptions options;
  options.format = format;
  options.token = kToken;
  const auto job = Load(text);
  EXPECT_TRUE(CheckRenderable(job, format).empty());
  return YAML::LoadAll(ToYamlStream(Render(job, options)));
}

// `text` with the first `from` replaced by `to`.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.as<std::string>());
  return out;
}

YAML::Node Container(const YAML::Node& pod_template) {
  return pod_template["spec"]["containers"][0];
}

YAML::Node FindByName(const YAML::Node& list, const std::string& name) {
  for (const auto& item : list) {
    if (item["name"].as<std::string>() == name) return item;
  }
  ADD_FAILURE() << "no " << name;
  return YAML::Node();
}

TEST(RenderJob, ObjectsInApplyOrderFollowTheContract) {
  auto docs = RenderDocs(kFullSpec, Format::kJob);
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[0]["kind"].as<std::string>(), "Secret");
  EXPECT_EQ(docs[0]["metadata"]["name"].as<std::string>(), "llm-token");
  EXPECT_EQ(docs[0]["type"].as<std::string>(), "Opaque");
  EXPECT_EQ(docs[0]["stringData"]["token"].as<std::string>(), kToken);

  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "ConfigMap");
  EXPECT_EQ(docs[1]["metadata"]["name"].as<std::string>(), "llm-spec");
  // The ConfigMap holds the spec with its defaults: it parses back to the same job.
  const auto round_trip = Load(docs[1]["data"]["job.yaml"].as<std::string>());
  EXPECT_EQ(round_trip.SerializeAsString(), Load(kFullSpec).SerializeAsString());

  const YAML::Node service = docs[2];
  EXPECT_EQ(service["kind"].as<std::string>(), "Service");
  EXPECT_EQ(service["spec"]["clusterIP"].as<std::string>(), "None");
  EXPECT_TRUE(service["spec"]["publishNotReadyAddresses"].as<bool>());
  EXPECT_EQ(service["spec"]["selector"]["trainctl.dev/job-name"].as<std::string>(), "llm");
  EXPECT_EQ(service["spec"]["ports"][0]["name"].as<std::string>(), "rendezvous");
  EXPECT_EQ(service["spec"]["ports"][0]["port"].as<int>(), 29500);
  for (const auto& doc : docs) {
    EXPECT_EQ(doc["metadata"]["namespace"].as<std::string>(), "research");
    EXPECT_EQ(doc["metadata"]["labels"]["team"].as<std::string>(), "nlp");
    EXPECT_EQ(doc["metadata"]["labels"]["trainctl.dev/job-name"].as<std::string>(), "llm");
    EXPECT_EQ(doc["metadata"]["annotations"]["trainctl.dev/owner"].as<std::string>(), "infra");
  }
}

TEST(RenderJob, IndexedJobMapsNodesRestartsExitCodesAndLifetimes) {
  const YAML::Node job = RenderDocs(kFullSpec, Format::kJob)[3];
  ASSERT_EQ(job["kind"].as<std::string>(), "Job");
  EXPECT_EQ(job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"].as<std::string>(), "gpu-queue");
  const YAML::Node spec = job["spec"];
  EXPECT_EQ(spec["completionMode"].as<std::string>(), "Indexed");
  EXPECT_EQ(spec["completions"].as<int>(), 4);
  EXPECT_EQ(spec["parallelism"].as<int>(), 4);
  EXPECT_EQ(spec["backoffLimitPerIndex"].as<int>(), 7);
  EXPECT_EQ(spec["maxFailedIndexes"].as<int>(), 2);  // elastic: max - min may be lost
  EXPECT_FALSE(spec["backoffLimit"]);
  EXPECT_EQ(spec["activeDeadlineSeconds"].as<int>(), 5400);
  EXPECT_EQ(spec["ttlSecondsAfterFinished"].as<int>(), 3600);
  EXPECT_TRUE(spec["suspend"].as<bool>());

  const YAML::Node rules = spec["podFailurePolicy"]["rules"];
  ASSERT_EQ(rules.size(), 4u);  // rules[1], a preempted agent's exit 75: preempt_render_test
  EXPECT_EQ(rules[0]["action"].as<std::string>(), "Ignore");
  EXPECT_EQ(rules[0]["onPodConditions"][0]["type"].as<std::string>(), "DisruptionTarget");
  EXPECT_EQ(rules[0]["onPodConditions"][0]["status"].as<std::string>(), "True");
  EXPECT_EQ(rules[2]["action"].as<std::string>(), "FailJob");
  EXPECT_EQ(rules[2]["onExitCodes"]["operator"].as<std::string>(), "In");
  EXPECT_EQ(rules[2]["onExitCodes"]["containerName"].as<std::string>(), "trainer");
  EXPECT_EQ(Strings(rules[2]["onExitCodes"]["values"]), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(rules[3]["onExitCodes"]["operator"].as<std::string>(), "NotIn");
  EXPECT_EQ(Strings(rules[3]["onExitCodes"]["values"]), (std::vector<std::string>{"1", "137"}));

  const YAML::Node pod = spec["template"]["spec"];
  EXPECT_EQ(pod["subdomain"].as<std::string>(), "llm");
  EXPECT_EQ(pod["restartPolicy"].as<std::string>(), "Never");
  EXPECT_FALSE(pod["hostNetwork"]);
  EXPECT_EQ(spec["template"]["metadata"]["labels"]["trainctl.dev/job-name"].as<std::string>(),
            "llm");
}

TEST(RenderJob, ContainerRunsTheAgentWithItsRankFromTheCompletionIndex) {
  const YAML::Node c = Container(RenderDocs(kFullSpec, Format::kJob)[3]["spec"]["template"]);
  EXPECT_EQ(c["name"].as<std::string>(), "trainer");
  EXPECT_EQ(c["image"].as<std::string>(), "registry.example.com/trainer:1.0");
  EXPECT_EQ(Strings(c["command"]), (std::vector<std::string>{"trainctl", "agent"}));
  EXPECT_EQ(Strings(c["args"]),
            (std::vector<std::string>{"/etc/trainctl/spec/job.yaml", "--store", "llm-0.llm:29500",
                                      "--node-rank", "$(TRAINCTL_NODE_RANK)", "--host-store",
                                      "auto", "--token-file", "/etc/trainctl/token/token",
                                      "--run-dir", "/var/run/trainctl",
                                      // Relative to the image's working directory.
                                      "--working-dir", "."}));
  const YAML::Node env = c["env"];
  EXPECT_EQ(env[0]["name"].as<std::string>(), "TRAINCTL_NODE_RANK");
  EXPECT_EQ(env[0]["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>(),
            "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  EXPECT_EQ(FindByName(env, "TRAINCTL_JOB_NAME")["value"].as<std::string>(), "llm");
  EXPECT_EQ(FindByName(env, "NCCL_DEBUG")["value"].as<std::string>(), "WARN");
  EXPECT_EQ(FindByName(env, "OMP_NUM_THREADS")["value"].as<std::string>(), "1");
  EXPECT_EQ(c["ports"][0]["name"].as<std::string>(), "rendezvous");
  EXPECT_EQ(c["ports"][0]["containerPort"].as<int>(), 29500);
}

TEST(RenderJob, ResourcesRequestEqualsLimitWithTheSpecsGpuResource) {
  const YAML::Node c = Container(RenderDocs(kFullSpec, Format::kJob)[3]["spec"]["template"]);
  for (const char* side : {"requests", "limits"}) {
    const YAML::Node r = c["resources"][side];
    EXPECT_EQ(r["cpu"].as<std::string>(), "16");
    EXPECT_EQ(r["memory"].as<std::string>(), "200Gi");
    EXPECT_EQ(r["nvidia.com/mig-1g.10gb"].as<int>(), 2);
    EXPECT_FALSE(r["nvidia.com/gpu"]);
  }
  // CPU only: no GPU resource at all.
  const std::string cpu_only = Replace(kFullSpec, "gpus: 2", "gpus: 0");
  const YAML::Node r =
      Container(RenderDocs(cpu_only, Format::kJob)[3]["spec"]["template"])["resources"];
  EXPECT_FALSE(r["limits"]["nvidia.com/mig-1g.10gb"]);
  EXPECT_EQ(r["limits"]["cpu"].as<std::string>(), "16");
}

TEST(RenderJob, VolumesMountTokenSpecShmAndTheSpecsClaims) {
  const YAML::Node tmpl = RenderDocs(kFullSpec, Format::kJob)[3]["spec"]["template"];
  const YAML::Node volumes = tmpl["spec"]["volumes"];
  const YAML::Node mounts = Container(tmpl)["volumeMounts"];
  EXPECT_EQ(FindByName(volumes, "trainctl-token")["secret"]["secretName"].as<std::string>(),
            "llm-token");
  EXPECT_EQ(FindByName(volumes, "trainctl-token")["secret"]["defaultMode"].as<int>(), 0400);
  EXPECT_EQ(FindByName(mounts, "trainctl-token")["mountPath"].as<std::string>(),
            "/etc/trainctl/token");
  EXPECT_TRUE(FindByName(mounts, "trainctl-token")["readOnly"].as<bool>());
  EXPECT_EQ(FindByName(volumes, "trainctl-spec")["configMap"]["name"].as<std::string>(),
            "llm-spec");
  EXPECT_EQ(FindByName(mounts, "trainctl-spec")["mountPath"].as<std::string>(),
            "/etc/trainctl/spec");
  const YAML::Node shm = FindByName(volumes, "trainctl-shm")["emptyDir"];
  EXPECT_EQ(shm["medium"].as<std::string>(), "Memory");
  EXPECT_EQ(shm["sizeLimit"].as<std::string>(), "8Gi");
  EXPECT_EQ(FindByName(mounts, "trainctl-shm")["mountPath"].as<std::string>(), "/dev/shm");
  EXPECT_EQ(FindByName(volumes, "ckpt")["persistentVolumeClaim"]["claimName"].as<std::string>(),
            "ckpt-pvc");
  EXPECT_EQ(FindByName(mounts, "ckpt")["mountPath"].as<std::string>(), "/ckpt");
  EXPECT_TRUE(FindByName(volumes, "data")["persistentVolumeClaim"]["readOnly"].as<bool>());
  EXPECT_TRUE(FindByName(mounts, "data")["readOnly"].as<bool>());
  EXPECT_TRUE(FindByName(volumes, "scratch")["emptyDir"].IsMap());
  for (const auto& volume : volumes) EXPECT_FALSE(volume["hostPath"]);
}

TEST(RenderJob, SchedulingFieldsReachThePod) {
  const YAML::Node pod = RenderDocs(kFullSpec, Format::kJob)[3]["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/mig.config"].as<std::string>(), "all-1g.10gb");
  EXPECT_EQ(pod["tolerations"][0]["key"].as<std::string>(), "nvidia.com/gpu");
  EXPECT_EQ(pod["tolerations"][0]["operator"].as<std::string>(), "Exists");
  EXPECT_EQ(pod["tolerations"][0]["effect"].as<std::string>(), "NoSchedule");
  EXPECT_EQ(pod["priorityClassName"].as<std::string>(), "training-high");
  EXPECT_EQ(pod["schedulerName"].as<std::string>(), "volcano");
  const YAML::Node expr =
      pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
         ["nodeSelectorTerms"][0]["matchExpressions"][0];
  EXPECT_EQ(expr["key"].as<std::string>(), "nvidia.com/gpu.product");
  EXPECT_EQ(Strings(expr["values"]), std::vector<std::string>{"A100"});
  const YAML::Node apart =
      pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
  EXPECT_EQ(apart["topologyKey"].as<std::string>(), "kubernetes.io/hostname");
  EXPECT_EQ(apart["labelSelector"]["matchLabels"]["trainctl.dev/job-name"].as<std::string>(),
            "llm");
  const YAML::Node spread = pod["topologySpreadConstraints"][0];
  EXPECT_EQ(spread["topologyKey"].as<std::string>(), "topology.kubernetes.io/zone");
  EXPECT_EQ(spread["maxSkew"].as<int>(), 1);
  EXPECT_EQ(spread["whenUnsatisfiable"].as<std::string>(), "DoNotSchedule");
}

TEST(RenderJob, SecurityContextIsRestrictive) {
  const YAML::Node tmpl = RenderDocs(kFullSpec, Format::kJob)[3]["spec"]["template"];
  const YAML::Node pod = tmpl["spec"]["securityContext"];
  EXPECT_TRUE(pod["runAsNonRoot"].as<bool>());
  EXPECT_EQ(pod["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
  EXPECT_FALSE(tmpl["spec"]["automountServiceAccountToken"].as<bool>());
  const YAML::Node c = Container(tmpl)["securityContext"];
  EXPECT_FALSE(c["allowPrivilegeEscalation"].as<bool>());
  EXPECT_EQ(Strings(c["capabilities"]["drop"]), std::vector<std::string>{"ALL"});
  EXPECT_FALSE(c["privileged"]);
}

TEST(RenderJobSet, OneReplicatedJobRestartedAsASet) {
  auto docs = RenderDocs(kFullSpec, Format::kJobSet);
  ASSERT_EQ(docs.size(), 3u);  // JobSet makes its own headless Service
  const YAML::Node set = docs[2];
  EXPECT_EQ(set["apiVersion"].as<std::string>(), "jobset.x-k8s.io/v1alpha2");
  EXPECT_EQ(set["kind"].as<std::string>(), "JobSet");
  EXPECT_EQ(set["spec"]["failurePolicy"]["maxRestarts"].as<int>(), 7);
  EXPECT_EQ(set["spec"]["failurePolicy"]["rules"][0]["action"].as<std::string>(), "FailJobSet");
  EXPECT_EQ(set["spec"]["network"]["subdomain"].as<std::string>(), "llm");
  EXPECT_TRUE(set["spec"]["network"]["publishNotReadyAddresses"].as<bool>());
  EXPECT_TRUE(set["spec"]["suspend"].as<bool>());
  const YAML::Node rjob = set["spec"]["replicatedJobs"][0];
  EXPECT_EQ(rjob["replicas"].as<int>(), 1);
  const YAML::Node job = rjob["template"]["spec"];
  EXPECT_EQ(job["completions"].as<int>(), 4);
  EXPECT_EQ(job["parallelism"].as<int>(), 4);
  EXPECT_EQ(job["backoffLimit"].as<int>(), 0);
  const auto args = Strings(Container(job["template"])["args"]);
  ASSERT_GE(args.size(), 3u);
  EXPECT_EQ(args[2], "llm-node-0-0.llm:29500");
}

TEST(RenderPyTorchJob, MasterAndWorkersWithTheOperatorsNames) {
  auto docs = RenderDocs(kFullSpec, Format::kPyTorchJob);
  ASSERT_EQ(docs.size(), 3u);
  const YAML::Node job = docs[2];
  EXPECT_EQ(job["apiVersion"].as<std::string>(), "kubeflow.org/v1");
  EXPECT_EQ(job["spec"]["runPolicy"]["backoffLimit"].as<int>(), 7);
  EXPECT_EQ(job["spec"]["runPolicy"]["schedulingPolicy"]["queue"].as<std::string>(), "gpu-queue");
  const YAML::Node replicas = job["spec"]["pytorchReplicaSpecs"];
  EXPECT_EQ(replicas["Master"]["replicas"].as<int>(), 1);
  EXPECT_EQ(replicas["Worker"]["replicas"].as<int>(), 3);
  for (const char* type : {"Master", "Worker"}) {
    const YAML::Node c = Container(replicas[type]["template"]);
    EXPECT_EQ(c["name"].as<std::string>(), "pytorch");
    EXPECT_EQ(c["ports"][0]["name"].as<std::string>(), "pytorchjob-port");
    EXPECT_EQ(c["ports"][0]["containerPort"].as<int>(), 29500);
    const auto args = Strings(c["args"]);
    EXPECT_EQ(std::count(args.begin(), args.end(), "--store"), 0);      // MASTER_ADDR:MASTER_PORT
    EXPECT_EQ(std::count(args.begin(), args.end(), "--node-rank"), 0);  // RANK
    EXPECT_EQ(std::count(args.begin(), args.end(), "auto"), 1);
    EXPECT_EQ(FindByName(c["env"], "TRAINCTL_JOB_NAME")["value"].as<std::string>(), "llm");
  }
  // One node: a Master alone.
  const std::string single = Replace(kFullSpec, "nodes: {min: 2, max: 4}", "nodes: 1");
  EXPECT_FALSE(RenderDocs(single, Format::kPyTorchJob)[2]["spec"]["pytorchReplicaSpecs"]["Worker"]);
}

TEST(Render, SameInputGivesTheSameBytes) {
  RenderOptions options;
  options.token = kToken;
  const auto job = Load(kFullSpec);
  for (Format format : {Format::kJob, Format::kJobSet, Format::kPyTorchJob}) {
    options.format = format;
    EXPECT_EQ(ToYamlStream(Render(job, options)), ToYamlStream(Render(job, options)));
  }
}

TEST(Render, RefusesHostPathNamingTheField) {
  const std::string text =
      Replace(kFullSpec, "{name: scratch, emptyDir: true", "{name: scratch, hostPath: /mnt/x");
  const auto problems = CheckRenderable(Load(text), Format::kJob);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "spec.storage.volumes[2].hostPath");
  EXPECT_NE(problems[0].message.find("\"/mnt/x\" cannot be rendered"), std::string::npos);
  EXPECT_NE(problems[0].message.find("virtual nodes"), std::string::npos);
  EXPECT_NE(problems[0].message.find("persistentVolumeClaim"), std::string::npos);
}

TEST(Render, RefusesAMissingImageReservedNamesAndNamesTooLongForPodDns) {
  std::string text = Replace(kFullSpec, "  image: registry.example.com/trainer:1.0\n", "");
  text = Replace(text, "{name: ckpt,", "{name: trainctl-x,");
  text = Replace(text, "mountPath: /scratch", "mountPath: /dev/shm");
  text = Replace(text, "name: llm\n", "name: " + std::string(55, 'a') + "\n");
  const auto problems = CheckRenderable(Load(text), Format::kJobSet);
  std::vector<std::string> paths;
  for (const auto& p : problems) paths.push_back(p.path);
  EXPECT_EQ(paths,
            (std::vector<std::string>{"spec.image", "metadata.name", "spec.storage.volumes[0].name",
                                      "spec.storage.volumes[2].mountPath"}));
  EXPECT_TRUE(CheckRenderable(Load(text), Format::kJob).size() == 3u);  // 57 characters fit
}

TEST(Render, FormatsAndTokenFiles) {
  EXPECT_EQ(*ParseFormat("jobset"), Format::kJobSet);
  EXPECT_FALSE(ParseFormat("mpijob").ok());
  const std::string path = testing::TempDir() + "/token";
  std::ofstream(path) << std::string(64, 'f') << "\n";
  auto token = ReadRenderToken(path);
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(*token, std::string(64, 'f'));
  std::ofstream(path) << "not-a-token\n";
  EXPECT_NE(ReadRenderToken(path).status().message().find("openssl rand -hex 32"),
            std::string::npos);
  EXPECT_FALSE(ReadRenderToken(path + ".missing").ok());
  std::remove(path.c_str());
}

TEST(SpecForKubernetes, PlacementFieldsAreValidatedNamingTheField) {
  const std::string text = Replace(
      kFullSpec, "    topologySpread: [{topologyKey: topology.kubernetes.io/zone}]\n",
      "    topologySpread: [{maxSkew: 0, whenUnsatisfiable: Never}]\n"
      "    affinity:\n"
      "      requiredNodeExpressions: [{key: gpu, operator: Gt, values: [big]}]\n"
      "      preferredNodeExpressions: [{weight: 101, key: zone, operator: Inn, values: [a]}]\n"
      "      podsApartBy: \"not a key\"\n");
  std::string without_first_affinity = Replace(
      text,
      "    affinity:\n      requiredNodeExpressions: [{key: nvidia.com/gpu.product, operator: "
      "In, values: [A100]}]\n      podsApartBy: kubernetes.io/hostname\n",
      "");
  without_first_affinity =
      Replace(without_first_affinity, "activeDeadline: 90m", "activeDeadline: 90");
  spec::JobFile file = spec::ParseJob(without_first_affinity, "job.yaml");
  const std::string errors = file.FormatErrors();
  for (const char* expected : {
           "spec.scheduling.topologySpread[0].topologyKey: is required",
           "spec.scheduling.topologySpread[0].maxSkew: 0 is out of range",
           "spec.scheduling.topologySpread[0].whenUnsatisfiable: \"Never\" is not valid",
           "spec.scheduling.affinity.requiredNodeExpressions[0].values: operator Gt needs "
           "exactly one integer value",
           "spec.scheduling.affinity.preferredNodeExpressions[0].weight: 101 is out of range",
           "spec.scheduling.affinity.preferredNodeExpressions[0].operator: \"Inn\" is not valid",
           "spec.scheduling.affinity.podsApartBy: \"not a key\" is not a valid node label key",
           "spec.activeDeadline:",
       }) {
    EXPECT_NE(errors.find(expected), std::string::npos) << expected << "\n" << errors;
  }
}

}  // namespace
}  // namespace trainctl::k8s
