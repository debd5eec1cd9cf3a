// Names, labels and paths shared by every rendered object (the contract with the agent).
#ifndef TRAINCTL_K8S_NAMES_H_
#define TRAINCTL_K8S_NAMES_H_

#include <string>

namespace trainctl::k8s {

inline constexpr char kJobNameLabel[] = "trainctl.dev/job-name";
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kQueueLabel[] = "kueue.x-k8s.io/queue-name";
inline constexpr char kCompletionIndexAnnotation[] = "batch.kubernetes.io/job-completion-index";

inline constexpr char kTokenDir[] = "/etc/trainctl/token";
inline constexpr char kTokenFile[] = "/etc/trainctl/token/token";
inline constexpr char kSpecDir[] = "/etc/trainctl/spec";
inline constexpr char kSpecFile[] = "/etc/trainctl/spec/job.yaml";
inline constexpr char kRunDir[] = "/var/run/trainctl";
inline constexpr char kShmDir[] = "/dev/shm";

// The replicated job of a JobSet: pod k of a job is <job>-node-0-<k>.
inline constexpr char kJobSetReplicatedJob[] = "node";

inline std::string TokenSecretName(const std::string& job) { return job + "-token"; }
inline std::string SpecConfigMapName(const std::string& job) { return job + "-spec"; }

}  // namespace trainctl::k8s

#endif  // TRAINCTL_K8S_NAMES_H_
