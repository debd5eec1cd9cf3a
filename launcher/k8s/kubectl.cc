#include "kubectl.h"

#include <algorithm>
#include <cctype>

#include "names.h"

namespace trainctl::k8s {
namespace {

std::string Selector(const std::string& job) { return std::string(kJobNameLabel) + "=" + job; }

bool Contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

// " --context C --kubeconfig K" for the commands a hint suggests.
std::string ContextWords(const KubectlTarget& target) {
  std::string words;
  if (!target.context.empty()) words += " --context " + target.context;
  if (!target.kubeconfig.empty()) words += " --kubeconfig " + target.kubeconfig;
  return words;
}

}  // namespace

std::vector<std::string> KubectlBase(const KubectlTarget& target) {
  std::vector<std::string> argv = {"kubectl"};
  if (!target.kubeconfig.empty()) argv.insert(argv.end(), {"--kubeconfig", target.kubeconfig});
  if (!target.context.empty()) argv.insert(argv.end(), {"--context", target.context});
  if (!target.namespace_.empty()) argv.insert(argv.end(), {"--namespace", target.namespace_});
  return argv;
}

std::vector<std::string> ApplyCommand(const KubectlTarget& target) {
  std::vector<std::string> argv = KubectlBase(target);
  argv.insert(argv.end(), {"apply", "-f", "-"});
  return argv;
}

std::vector<std::string> GetCommand(const KubectlTarget& target, const std::string& job) {
  std::vector<std::string> argv = KubectlBase(target);
  argv.insert(argv.end(), {"get", "jobs.batch,pods", "-l", Selector(job), "-o", "json"});
  return argv;
}

std::vector<std::string> LogsCommand(const KubectlTarget& target, const LogsRequest& request) {
  std::vector<std::string> argv = KubectlBase(target);
  argv.push_back("logs");
  if (!request.pod.empty()) {
    argv.insert(argv.end(), {request.pod, "-c", request.container});
  } else {
    // With a selector kubectl shows the last 10 lines unless told otherwise.
    argv.insert(argv.end(),
                {"-l", Selector(request.job), "-c", request.container, "--prefix", "--tail=-1",
                 "--max-log-requests=" + std::to_string(std::max(request.pods, 1))});
  }
  if (request.follow) argv.push_back("-f");
  return argv;
}

std::vector<std::string> DeleteCommand(const KubectlTarget& target, const std::string& job,
                                       Format format) {
  std::string kinds;
  switch (format) {
    case Format::kJob:
      kinds = "jobs.batch";
      break;
    case Format::kJobSet:
      kinds = "jobsets.jobset.x-k8s.io";
      break;
    case Format::kPyTorchJob:
      kinds = "pytorchjobs.kubeflow.org";
      break;
  }
  kinds += ",services,configmaps,secrets";
  std::vector<std::string> argv = KubectlBase(target);
  argv.insert(argv.end(), {"delete", kinds, "-l", Selector(job), "--ignore-not-found"});
  return argv;
}

std::string FormatCommand(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += " ";
    const bool plain =
        !arg.empty() && arg.find_first_of(" \t\n'\"$`\\*?[]{}()<>|&;#~") == std::string::npos;
    if (plain) {
      line += arg;
    } else {
      std::string quoted = "'";
      for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      line += quoted + "'";
    }
  }
  return line;
}

std::string KubectlFailureHint(std::string_view err, const KubectlTarget& target) {
  const std::string context = ContextWords(target);
  if (Contains(err, "localhost:8080")) {
    return "kubectl has no cluster configured (it fell back to localhost:8080): pass "
           "--kubeconfig FILE or --context NAME, or set KUBECONFIG (`kubectl config "
           "get-contexts` lists the contexts)";
  }
  if (Contains(err, "connection refused") || Contains(err, "Unable to connect to the server") ||
      Contains(err, "no such host") || Contains(err, "i/o timeout") ||
      Contains(err, "was refused") || Contains(err, "connect: ") ||
      Contains(err, "TLS handshake timeout") || Contains(err, "context deadline exceeded")) {
    return "cannot reach the Kubernetes cluster" +
           (context.empty() ? std::string() : " (kubectl" + context + ")") +
           ": check that it is up and that kubectl points at it (`kubectl" + context +
           " cluster-info`); choose another with --context or --kubeconfig";
  }
  if (Contains(err, "no configuration has been provided") ||
      Contains(err, "invalid configuration") || Contains(err, "does not exist") ||
      Contains(err, "context was not found")) {
    return "kubectl has no usable cluster configuration" + context +
           ": pass --kubeconfig FILE or --context NAME, or set KUBECONFIG (`kubectl config "
           "get-contexts` lists the contexts)";
  }
  if (Contains(err, "no matches for kind") || Contains(err,
                                                       "the server doesn't have a resource "
                                                       "type")) {
    return "the cluster does not know this kind: install its controller (JobSet: "
           "https://jobset.sigs.k8s.io, PyTorchJob: the Kubeflow training operator) or use "
           "--format job, which needs nothing but Kubernetes";
  }
  if (Contains(err, "forbidden") || Contains(err, "Forbidden")) {
    return "your user may not do this in that namespace: a cluster administrator can bind the "
           "role in manifests/base/rbac.yaml (`kubectl auth can-i create jobs" +
           context + "` checks)";
  }
  return "";
}

std::string KubectlMessage(std::string_view stderr_text) {
  std::string kept, last;
  std::size_t start = 0;
  while (start < stderr_text.size()) {
    std::size_t end = stderr_text.find('\n', start);
    if (end == std::string_view::npos) end = stderr_text.size();
    const std::string_view line = stderr_text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    last = std::string(line);
    // klog lines: a severity letter, then MMDD and the time ("E1123 09:46:29.62 ...").
    const bool klog = line.size() > 6 && (line[0] == 'E' || line[0] == 'W' || line[0] == 'I') &&
                      std::isdigit(static_cast<unsigned char>(line[1])) && line[5] == ' ';
    if (!klog) kept += std::string(line) + "\n";
  }
  return kept.empty() && !last.empty() ? last + "\n" : kept;
}

std::string KubectlNotFoundMessage() {
  return "kubectl was not found on PATH: install it (https://kubernetes.io/docs/tasks/tools/) "
         "or add it to PATH; or run `trainctl render JOB.yaml > job.k8s.yaml` here and "
         "`kubectl apply -f job.k8s.yaml` where kubectl is";
}

}  // namespace trainctl::k8s
