// The kubectl command lines behind submit, status, logs and delete (pure functions, so the
// exact argv is tested without a cluster), and what to tell a user when kubectl fails.
#ifndef TRAINCTL_K8S_KUBECTL_H_
#define TRAINCTL_K8S_KUBECTL_H_

#include <string>
#include <string_view>
#include <vector>

#include "render.h"

namespace trainctl::k8s {

// Which cluster and namespace: each empty field is left to kubectl (its current context, the
// context's namespace, $KUBECONFIG or ~/.kube/config).
struct KubectlTarget {
  std::string kubeconfig;
  std::string context;
  std::string namespace_;
};

// kubectl [--kubeconfig K] [--context C] [--namespace N]
std::vector<std::string> KubectlBase(const KubectlTarget& target);

// ... apply -f -   (the manifests on standard input)
std::vector<std::string> ApplyCommand(const KubectlTarget& target);

// ... get jobs.batch,pods -l trainctl.dev/job-name=<job> -o json
std::vector<std::string> GetCommand(const KubectlTarget& target, const std::string& job);

// One pod's log:  ... logs <pod> -c <container> [-f]
// Every pod's:    ... logs -l trainctl.dev/job-name=<job> -c <container> --prefix --tail=-1
//                     --max-log-requests=<pods> [-f]
struct LogsRequest {
  std::string job;
  std::string pod;  // empty: every pod of the job
  std::string container = "trainer";
  int pods = 1;  // how many pods stream at once
  bool follow = false;
};
std::vector<std::string> LogsCommand(const KubectlTarget& target, const LogsRequest& request);

// ... delete <the format's workload kind>,services,configmaps,secrets
//            -l trainctl.dev/job-name=<job> --ignore-not-found
// The workload goes first so that its controller does not recreate what is deleted after it.
std::vector<std::string> DeleteCommand(const KubectlTarget& target, const std::string& job,
                                       Format format);

// The argv as a shell line, for messages ("kubectl get ... -o json").
std::string FormatCommand(const std::vector<std::string>& argv);

// What to do about a failed kubectl run, from its stderr: a cluster that cannot be reached,
// no kubeconfig, a missing CRD (JobSet, PyTorchJob), or forbidden by RBAC. Empty when nothing
// more useful than kubectl's own message can be said.
std::string KubectlFailureHint(std::string_view stderr_text, const KubectlTarget& target);

// kubectl's error output less its client-side log lines (klog's "E1123 09:46:29 ..."), which
// repeat the same failure; the last line is kept when nothing else is left.
std::string KubectlMessage(std::string_view stderr_text);

// The message for kubectl missing from PATH.
std::string KubectlNotFoundMessage();

}  // namespace trainctl::k8s

#endif  // TRAINCTL_K8S_KUBECTL_H_
