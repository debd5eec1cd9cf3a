#include "validate.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "duration.h"
#include "names.h"
#include "quantity.h"
#include "suggest.h"
#include "train/env.h"
#include "train/trainer.h"

namespace trainctl::spec {
namespace {

namespace v1 = trainctl::v1alpha1;
using std::chrono::nanoseconds;

constexpr char kApiVersion[] = "trainctl.dev/v1alpha1";
constexpr int kMaxNodes = 4096;
constexpr int kMaxProcsPerNode = 1024;
constexpr int kMaxGpus = 64;

constexpr nanoseconds kMillisecond = std::chrono::milliseconds(1);
constexpr nanoseconds kSecond = std::chrono::seconds(1);
constexpr nanoseconds kHour = std::chrono::hours(1);
constexpr nanoseconds kDay = std::chrono::hours(24);
constexpr nanoseconds kWeek = std::chrono::hours(24 * 7);
constexpr nanoseconds kYear = std::chrono::hours(24 * 365);

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// Checks that run against one job, sharing its error list.
class Validator {
 public:
  explicit Validator(Diagnostics* errors) : errors_(errors) {}

  void Run(const v1::TrainingJob& job) {
    Header(job);
    Metadata(job.metadata());
    const v1::TrainingJobSpec& spec = job.spec();
    Command(spec);
    Env(spec);
    Nodes(spec);
    ResourcesAndProcs(spec);
    Scheduling(spec.scheduling());
    Rendezvous(spec.rendezvous());
    FailurePolicy(spec.failure_policy());
    Checkpoint(spec.checkpoint());
    Collectives(spec);
    Volumes(spec.storage());
    // Kubernetes counts both in whole seconds.
    OptionalDuration("spec.ttlAfterFinished", spec.ttl_after_finished(), kSecond, kYear);
    if (!spec.active_deadline().empty()) {
      Duration("spec.activeDeadline", spec.active_deadline(), kSecond, kYear);
    }
  }

 private:
  void Error(const std::string& path, std::string message) {
    errors_->Error(path, std::move(message));
  }

  // One of `allowed`, else an error listing them (and the closest one as a suggestion).
  void OneOf(const std::string& path, const std::string& value,
             const std::vector<std::string>& allowed) {
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
    std::string message = Quote(value) + " is not valid; use " + JoinAlternatives(allowed);
    std::string close = ClosestMatch(value, allowed);
    if (!close.empty()) message += " (did you mean " + Quote(close) + "?)";
    Error(path, message);
  }

  void InRange(const std::string& path, std::int64_t value, std::int64_t min, std::int64_t max) {
    if (value < min || value > max) {
      Error(path, std::to_string(value) + " is out of range; use a value between " +
                      std::to_string(min) + " and " + std::to_string(max));
    }
  }

  // A duration within [min, max]; `zero_ok` also allows exactly 0 (it means "none"). The
  // launcher counts in milliseconds, so a duration that is not 0 is at least 1ms.
  std::optional<nanoseconds> Duration(const std::string& path, const std::string& text,
                                      nanoseconds min, nanoseconds max, bool zero_ok = false) {
    auto parsed = ParseDuration(text);
    if (!parsed.ok()) {
      Error(path, parsed.status().message());
      return std::nullopt;
    }
    if (zero_ok && parsed->count() == 0) return *parsed;
    if (parsed->count() == 0) {
      Error(path, Quote(text) + " is zero; use a positive duration of at least " +
                      FormatDuration(min) + " such as " + FormatDuration(std::max(min, kSecond)));
      return std::nullopt;
    }
    if (*parsed < min) {
      Error(path, Quote(text) + " is too short to work; use at least " + FormatDuration(min) +
                      (zero_ok ? " (or 0s for none)" : ""));
      return std::nullopt;
    }
    if (*parsed > max) {
      Error(path, Quote(text) + " is too long; use at most " + FormatDuration(max));
      return std::nullopt;
    }
    return *parsed;
  }

  void OptionalDuration(const std::string& path, const std::string& text, nanoseconds min,
                        nanoseconds max) {
    if (!text.empty()) Duration(path, text, min, max, /*zero_ok=*/true);
  }

  std::optional<double> Quantity(const std::string& path, const std::string& text) {
    if (text.empty()) return std::nullopt;
    auto parsed = ParseQuantity(text);
    if (!parsed.ok()) {
      Error(path, parsed.status().message());
      return std::nullopt;
    }
    return *parsed;
  }

  void Header(const v1::TrainingJob& job) {
    if (job.api_version().empty()) {
      Error("apiVersion", std::string("is required; set apiVersion: ") + kApiVersion);
    } else if (job.api_version() != kApiVersion) {
      Error("apiVersion", Quote(job.api_version()) + " is not supported; use " + kApiVersion);
    }
    if (job.kind().empty()) {
      Error("kind", "is required; set kind: TrainingJob");
    } else if (job.kind() != "TrainingJob") {
      Error("kind", Quote(job.kind()) + " is not supported; use TrainingJob");
    }
  }

  void Metadata(const v1::ObjectMeta& meta) {
    if (meta.name().empty()) {
      Error("metadata.name", "is required; name the job, e.g. name: fashion-mnist");
    } else if (auto why = CheckDns1123Label(meta.name()); !why.empty()) {
      Error("metadata.name",
            Quote(meta.name()) + " is not a valid name: " + why + " (e.g. fashion-mnist)");
    }
    if (auto why = CheckDns1123Label(meta.namespace_()); !why.empty()) {
      Error("metadata.namespace", Quote(meta.namespace_()) + " is not a valid namespace: " + why);
    }
    Labels("metadata.labels", meta.labels());
    for (const auto& [key, value] : meta.annotations()) {
      if (auto why = CheckLabelKey(key); !why.empty()) {
        Error("metadata.annotations[" + key + "]", Quote(key) + " is not a valid key: " + why);
      }
    }
  }

  void Labels(const std::string& path,
              const google::protobuf::Map<std::string, std::string>& labels) {
    for (const auto& [key, value] : labels) {
      const std::string item = path + "[" + key + "]";
      if (auto why = CheckLabelKey(key); !why.empty()) {
        Error(item, Quote(key) + " is not a valid label key: " + why);
      }
      if (auto why = CheckLabelValue(value); !why.empty()) {
        Error(item, Quote(value) + " is not a valid label value: " + why);
      }
    }
  }

  void Command(const v1::TrainingJobSpec& spec) {
    if (spec.command().empty()) {
      Error("spec.command",
            "is required: the program each worker runs and its arguments, "
            "e.g. command: [\"python3\", \"train.py\"]");
    } else if (spec.command(0).empty()) {
      Error("spec.command[0]", "the program name is empty; name the program to run");
    }
  }

  void Env(const v1::TrainingJobSpec& spec) {
    std::set<std::string> names;
    for (int i = 0; i < spec.env_size(); ++i) {
      const std::string path = "spec.env[" + std::to_string(i) + "].name";
      const std::string& name = spec.env(i).name();
      if (auto why = CheckEnvName(name); !why.empty()) {
        Error(path, Quote(name) + " is not a valid variable name: " + why);
      } else if (name.rfind("TRAIN_", 0) == 0) {
        Error(path, Quote(name) +
                        " is reserved: TRAIN_* variables carry the worker contract "
                        "that trainctl sets; choose another name");
      } else if (!names.insert(name).second) {
        Error(path, Quote(name) + " is set twice; keep one entry");
      }
    }
  }

  void Nodes(const v1::TrainingJobSpec& spec) {
    const v1::NodeRange& nodes = spec.nodes();
    InRange("spec.nodes.min", nodes.min(), 1, kMaxNodes);
    InRange("spec.nodes.max", nodes.max(), 1, kMaxNodes);
    if (nodes.min() > nodes.max()) {
      Error("spec.nodes.min", "min (" + std::to_string(nodes.min()) + ") is greater than max (" +
                                  std::to_string(nodes.max()) + "); set min <= max");
    }
  }

  void ResourcesAndProcs(const v1::TrainingJobSpec& spec) {
    const v1::Resources& res = spec.resources();
    InRange("spec.procsPerNode", spec.procs_per_node(), 1, kMaxProcsPerNode);
    if (auto cpu = Quantity("spec.resources.cpu", res.cpu()); cpu && *cpu <= 0) {
      Error("spec.resources.cpu", Quote(res.cpu()) + " is zero; request at least 1m of CPU");
    }
    if (auto memory = Quantity("spec.resources.memory", res.memory())) {
      if (res.memory().back() == 'm') {
        Error("spec.resources.memory", Quote(res.memory()) +
                                           " is in thousandths of a byte; "
                                           "did you mean " +
                                           res.memory().substr(0, res.memory().size() - 1) + "Mi?");
      } else if (*memory < 1024 * 1024) {
        Error("spec.resources.memory", Quote(res.memory()) +
                                           " is less than 1Mi; memory is in "
                                           "bytes, so write e.g. 4Gi or 512Mi");
      }
    }
    Quantity("spec.resources.shmSize", res.shm_size());
    InRange("spec.resources.gpus", res.gpus(), 0, kMaxGpus);
    const std::string& gpu_resource = res.gpu_resource();
    std::size_t slash = gpu_resource.find('/');
    if (slash == std::string::npos || slash + 1 == gpu_resource.size() ||
        !CheckDns1123Subdomain(gpu_resource.substr(0, slash)).empty()) {
      Error("spec.resources.gpuResource",
            Quote(gpu_resource) +
                " is not a device-plugin resource name; use <vendor-domain>/"
                "<name>, e.g. nvidia.com/gpu or nvidia.com/mig-1g.10gb");
    }
    const int gpus = res.gpus();
    const int procs = spec.procs_per_node();
    if (gpus > 0 && procs > 0 && (procs > gpus || gpus % procs != 0)) {
      Error("spec.procsPerNode",
            std::to_string(procs) + " workers cannot share " + std::to_string(gpus) +
                " GPUs evenly; each worker needs its own GPU(s): set procsPerNode to " +
                std::to_string(gpus) + " (one per GPU) or a divisor of resources.gpus");
    }
  }

  void Scheduling(const v1::Scheduling& scheduling) {
    Labels("spec.scheduling.nodeSelector", scheduling.node_selector());
    for (int i = 0; i < scheduling.tolerations_size(); ++i) {
      const v1::Toleration& t = scheduling.tolerations(i);
      const std::string path = "spec.scheduling.tolerations[" + std::to_string(i) + "]";
      OneOf(path + ".operator", t.operator_(), {"Equal", "Exists"});
      if (!t.effect().empty()) {
        OneOf(path + ".effect", t.effect(), {"NoSchedule", "PreferNoSchedule", "NoExecute"});
      }
      if (t.operator_() == "Exists" && !t.value().empty()) {
        Error(path + ".value", "must be empty with operator Exists (got " + Quote(t.value()) +
                                   "); remove it or use operator Equal");
      }
      if (t.key().empty() && t.operator_() == "Equal") {
        Error(path + ".key",
              "is empty, which needs operator Exists (tolerate every taint); "
              "name the taint key, e.g. nvidia.com/gpu");
      }
      if (!t.key().empty()) {
        if (auto why = CheckLabelKey(t.key()); !why.empty()) {
          Error(path + ".key", Quote(t.key()) + " is not a valid taint key: " + why);
        }
      }
      if (t.has_toleration_seconds() && t.effect() != "NoExecute") {
        Error(path + ".tolerationSeconds",
              "applies only to effect NoExecute; set effect: "
              "NoExecute or remove tolerationSeconds");
      }
    }
    if (!scheduling.priority_class_name().empty()) {
      if (auto why = CheckDns1123Subdomain(scheduling.priority_class_name()); !why.empty()) {
        Error("spec.scheduling.priorityClassName",
              Quote(scheduling.priority_class_name()) + " is not a valid name: " + why);
      }
    }
    Affinity(scheduling.affinity());
    TopologySpread(scheduling);
    if (!scheduling.queue().empty()) {
      if (auto why = CheckDns1123Label(scheduling.queue()); !why.empty()) {
        Error("spec.scheduling.queue", Quote(scheduling.queue()) + " is not a valid name: " + why);
      }
    }
  }

  void NodeExpression(const std::string& path, const std::string& key, const std::string& op,
                      const google::protobuf::RepeatedPtrField<std::string>& values) {
    if (key.empty()) {
      Error(path + ".key", "is required: the node label to match, e.g. nvidia.com/gpu.product");
    } else if (auto why = CheckLabelKey(key); !why.empty()) {
      Error(path + ".key", Quote(key) + " is not a valid label key: " + why);
    }
    OneOf(path + ".operator", op, {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"});
    if ((op == "In" || op == "NotIn") && values.empty()) {
      Error(path + ".values", "is empty; operator " + op + " needs at least one value");
    } else if ((op == "Exists" || op == "DoesNotExist") && !values.empty()) {
      Error(path + ".values", "must be empty with operator " + op + "; remove the values");
    } else if (op == "Gt" || op == "Lt") {
      if (values.size() != 1 || values[0].empty() ||
          values[0].find_first_not_of("0123456789") != std::string::npos) {
        Error(path + ".values",
              "operator " + op + " needs exactly one integer value, e.g. [\"4\"]");
      }
    }
  }

  void TopologyKey(const std::string& path, const std::string& key) {
    if (key.empty()) return;
    if (auto why = CheckLabelKey(key); !why.empty()) {
      Error(path, Quote(key) + " is not a valid node label key: " + why +
                      " (e.g. topology.kubernetes.io/zone)");
    }
  }

  void Affinity(const v1::Affinity& affinity) {
    const std::string base = "spec.scheduling.affinity.";
    for (int i = 0; i < affinity.required_node_expressions_size(); ++i) {
      const v1::NodeSelectorRequirement& e = affinity.required_node_expressions(i);
      NodeExpression(base + "requiredNodeExpressions[" + std::to_string(i) + "]", e.key(),
                     e.operator_(), e.values());
    }
    for (int i = 0; i < affinity.preferred_node_expressions_size(); ++i) {
      const v1::PreferredNodeExpression& e = affinity.preferred_node_expressions(i);
      const std::string path = base + "preferredNodeExpressions[" + std::to_string(i) + "]";
      InRange(path + ".weight", e.weight(), 1, 100);
      NodeExpression(path, e.key(), e.operator_(), e.values());
    }
    TopologyKey(base + "podsTogetherBy", affinity.pods_together_by());
    TopologyKey(base + "podsApartBy", affinity.pods_apart_by());
  }

  void TopologySpread(const v1::Scheduling& scheduling) {
    std::set<std::string> keys;
    for (int i = 0; i < scheduling.topology_spread_size(); ++i) {
      const v1::TopologySpread& t = scheduling.topology_spread(i);
      const std::string path = "spec.scheduling.topologySpread[" + std::to_string(i) + "]";
      if (t.topology_key().empty()) {
        Error(path + ".topologyKey",
              "is required: the node label whose values are the domains, e.g. "
              "topology.kubernetes.io/zone");
      } else if (!keys.insert(t.topology_key()).second) {
        Error(path + ".topologyKey", Quote(t.topology_key()) + " is listed twice; keep one entry");
      }
      TopologyKey(path + ".topologyKey", t.topology_key());
      InRange(path + ".maxSkew", t.max_skew(), 1, 4096);
      OneOf(path + ".whenUnsatisfiable", t.when_unsatisfiable(),
            {"DoNotSchedule", "ScheduleAnyway"});
    }
  }

  void Rendezvous(const v1::Rendezvous& rdzv) {
    InRange("spec.rendezvous.port", rdzv.port(), 1024, 65535);
    auto join = Duration("spec.rendezvous.joinTimeout", rdzv.join_timeout(), kSecond, kWeek);
    auto last_call = Duration("spec.rendezvous.lastCall", rdzv.last_call(), kMillisecond, kHour,
                              /*zero_ok=*/true);
    // Heartbeats go to the store over HTTP: faster than 100ms they load it for nothing.
    auto heartbeat =
        Duration("spec.rendezvous.heartbeat", rdzv.heartbeat(), 100 * kMillisecond, kHour);
    auto timeout = Duration("spec.rendezvous.heartbeatTimeout", rdzv.heartbeat_timeout(),
                            200 * kMillisecond, kDay);
    // One late beat must not look like a dead node: the timeout spans at least two beats.
    if (heartbeat && timeout && *timeout < *heartbeat * 2) {
      Error("spec.rendezvous.heartbeatTimeout",
            Quote(rdzv.heartbeat_timeout()) + " must be longer than heartbeat (" +
                rdzv.heartbeat() + "), at least twice as long, or a node that misses one beat " +
                "looks dead; use at least " + FormatDuration(*heartbeat * 2));
    }
    if (join && last_call && *last_call >= *join) {
      Error("spec.rendezvous.lastCall", Quote(rdzv.last_call()) +
                                            " must be shorter than joinTimeout (" +
                                            rdzv.join_timeout() + ")");
    }
    RendezvousBackend(rdzv);
  }

  // backend, and the etcd cluster's endpoints and auth that only backend etcd uses.
  void RendezvousBackend(const v1::Rendezvous& rdzv) {
    if (!rdzv.backend().empty()) {
      OneOf("spec.rendezvous.backend", rdzv.backend(), {"builtin", "etcd"});
    }
    const bool etcd = rdzv.backend() == "etcd";
    if (!etcd) {
      if (rdzv.endpoints_size() > 0) {
        Error("spec.rendezvous.endpoints",
              "is only for backend etcd (the built-in store needs none): set backend: etcd, or "
              "remove endpoints");
      }
      if (rdzv.has_auth()) {
        Error("spec.rendezvous.auth",
              "is only for backend etcd: set backend: etcd, or remove auth");
      }
      return;
    }
    if (rdzv.endpoints_size() == 0) {
      Error("spec.rendezvous.endpoints",
            "is required with backend etcd: list the cluster's client URLs, e.g. [etcd-0:2379, "
            "etcd-1:2379, etcd-2:2379]");
    }
    std::set<std::string> seen;
    for (int i = 0; i < rdzv.endpoints_size(); ++i) {
      const std::string path = "spec.rendezvous.endpoints[" + std::to_string(i) + "]";
      const std::string& endpoint = rdzv.endpoints(i);
      if (!train::ParseEtcdEndpoint(endpoint, path).ok()) {
        Error(path, Quote(endpoint) +
                        " is not an etcd client URL; use host:port, http://host:port or "
                        "https://host:port, e.g. etcd-0:2379");
      } else if (!seen.insert(endpoint).second) {
        Error(path, Quote(endpoint) + " is listed twice; keep one entry");
      }
    }
    const v1::RendezvousAuth& auth = rdzv.auth();
    if (!auth.username().empty() && auth.password_file().empty()) {
      Error("spec.rendezvous.auth.passwordFile",
            "is required with username " + Quote(auth.username()) +
                ": name the file that holds the user's password");
    }
    if (auth.username().empty() && !auth.password_file().empty()) {
      Error("spec.rendezvous.auth.username",
            "is required with passwordFile: name the etcd user the password belongs to");
    }
    if (auth.cert_file().empty() != auth.key_file().empty()) {
      Error(auth.cert_file().empty() ? "spec.rendezvous.auth.certFile"
                                     : "spec.rendezvous.auth.keyFile",
            "is required with " + std::string(auth.cert_file().empty() ? "keyFile" : "certFile") +
                ": a client certificate and its private key go together");
    }
  }

  void ExitCodes(const std::string& path, const google::protobuf::RepeatedField<int>& codes) {
    std::set<int> seen;
    for (int i = 0; i < codes.size(); ++i) {
      const std::string item = path + "[" + std::to_string(i) + "]";
      if (codes[i] < 1 || codes[i] > 255) {
        Error(item, std::to_string(codes[i]) +
                        " is not a failure exit code; use 1 to 255 "
                        "(0 means success and never triggers a restart)");
      } else if (!seen.insert(codes[i]).second) {
        Error(item, std::to_string(codes[i]) + " is listed twice");
      }
    }
  }

  void FailurePolicy(const v1::FailurePolicy& policy) {
    InRange("spec.failurePolicy.maxRestarts", policy.max_restarts(), 0, 10000);
    Duration("spec.failurePolicy.backoff", policy.backoff(), kMillisecond, kHour,
             /*zero_ok=*/true);
    // Kubernetes takes whole seconds (the pod's period is rounded up); an hour is longer than
    // any cloud's notice before it reclaims a node.
    OptionalDuration("spec.failurePolicy.preemptionGrace", policy.preemption_grace(), kMillisecond,
                     kHour);
    ExitCodes("spec.failurePolicy.restartOnExitCodes", policy.restart_on_exit_codes());
    ExitCodes("spec.failurePolicy.failOnExitCodes", policy.fail_on_exit_codes());
    for (int i = 0; i < policy.fail_on_exit_codes_size(); ++i) {
      int code = policy.fail_on_exit_codes(i);
      const auto& restart = policy.restart_on_exit_codes();
      if (code == train::kExitPreempted) {
        Error("spec.failurePolicy.failOnExitCodes[" + std::to_string(i) + "]",
              "75 is the exit code of a preempted worker (it saved its step on SIGTERM, see "
              "preemptionGrace), which restarts the job without spending a restart; remove it");
      } else if (std::find(restart.begin(), restart.end(), code) != restart.end()) {
        Error("spec.failurePolicy.failOnExitCodes[" + std::to_string(i) + "]",
              std::to_string(code) +
                  " is also in restartOnExitCodes; a code can either restart "
                  "the job or fail it, so remove it from one list");
      }
    }
  }

  void Checkpoint(const v1::Checkpoint& ckpt) {
    if (ckpt.dir().empty()) {
      if (ckpt.has_every_steps() || ckpt.has_keep() || ckpt.has_async()) {
        Error("spec.checkpoint.dir",
              "is empty, so the other checkpoint settings would be "
              "ignored; set dir (e.g. runs/my-job/ckpt) or remove them");
      }
    } else {
      InRange("spec.checkpoint.everySteps", ckpt.every_steps(), 1, 1000000000);
      InRange("spec.checkpoint.keep", ckpt.keep(), 1, 100000);
    }
    if (ckpt.has_memory()) {
      InRange("spec.checkpoint.memory.everySteps", ckpt.memory().every_steps(), 1, 1000000000);
      InRange("spec.checkpoint.memory.replicas", ckpt.memory().replicas(), 0, 16);
    }
    // Without dir, resume still reaches a program that chooses its own checkpoint directory.
    if (!ckpt.resume().empty()) {
      OneOf("spec.checkpoint.resume", ckpt.resume(), {"auto", "never", "always"});
    }
    if (!ckpt.resume_from().empty() && ckpt.resume() == "never") {
      Error("spec.checkpoint.resumeFrom",
            Quote(ckpt.resume_from()) +
                " names a checkpoint to continue from, but resume is never; remove one of them");
    }
  }

  void Collectives(const v1::TrainingJobSpec& spec) {
    const v1::Collectives& coll = spec.collectives();
    OneOf("spec.collectives.backend", coll.backend(), {"auto", "cpu", "nccl", "mpi"});
    if (coll.backend() == "nccl" && spec.resources().gpus() == 0) {
      Error("spec.collectives.backend",
            "nccl needs GPUs but resources.gpus is 0; set "
            "resources.gpus or use backend auto or cpu");
    }
    // A collective waits this long for the slowest rank: under a second, a busy machine's
    // scheduling jitter alone fails it.
    Duration("spec.collectives.timeout", coll.timeout(), kSecond, kDay);
  }

  void Volumes(const v1::Storage& storage) {
    std::set<std::string> names, mounts;
    for (int i = 0; i < storage.volumes_size(); ++i) {
      const v1::Volume& v = storage.volumes(i);
      const std::string path = "spec.storage.volumes[" + std::to_string(i) + "]";
      if (auto why = CheckDns1123Label(v.name()); !why.empty()) {
        Error(path + ".name", Quote(v.name()) + " is not a valid volume name: " + why);
      } else if (!names.insert(v.name()).second) {
        Error(path + ".name", Quote(v.name()) + " is used by another volume; names are unique");
      }
      int sources = !v.persistent_volume_claim().empty() + !v.host_path().empty() +
                    (v.has_empty_dir() && v.empty_dir());
      if (sources != 1) {
        Error(path, "has " + std::to_string(sources) +
                        " sources; set exactly one of "
                        "persistentVolumeClaim, hostPath or emptyDir: true");
      }
      if (!v.host_path().empty() && v.host_path().front() != '/') {
        Error(path + ".hostPath", Quote(v.host_path()) + " is not an absolute path");
      }
      if (v.mount_path().empty() || v.mount_path().front() != '/') {
        Error(path + ".mountPath", Quote(v.mount_path()) +
                                       " is not an absolute path; "
                                       "write where the volume appears, e.g. /ckpt");
      } else if (!mounts.insert(v.mount_path()).second) {
        Error(path + ".mountPath", Quote(v.mount_path()) + " is used by another volume");
      }
    }
  }

  Diagnostics* errors_;
};

}  // namespace

void Validate(const v1::TrainingJob& job, Diagnostics* errors) { Validator(errors).Run(job); }

}  // namespace trainctl::spec
