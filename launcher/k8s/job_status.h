// `trainctl status` and `trainctl logs`: a job's pods and Jobs as kubectl reports them
// (`kubectl get jobs.batch,pods -l trainctl.dev/job-name=<job> -o json`), summed up.
#ifndef TRAINCTL_K8S_JOB_STATUS_H_
#define TRAINCTL_K8S_JOB_STATUS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace trainctl::k8s {

struct PodState {
  std::string name;
  int node_rank = -1;  // from the Job's completion index, or PyTorchJob's replica type/index
  std::string phase;   // Pending, Running, Succeeded, Failed
  bool ready = false;
  int restarts = 0;       // container restarts in place
  std::string container;  // the trainer container: "trainer", or "pytorch"
  std::string node;       // the Kubernetes node it runs on
  std::string reason;     // why it waits or failed, when Kubernetes says
};

struct JobState {
  std::string name;
  std::string phase;           // Succeeded, Failed, Suspended, Running, Starting, Pending
  std::string message;         // the Job's failure message, when it failed
  int nodes = 0;               // pods the job runs when complete (the Job's parallelism)
  int ready = 0;               // of the current pods, those ready
  int restarts = 0;            // failed pods replaced plus container restarts in place
  std::vector<PodState> pods;  // by node rank, the newest pod of each rank first
};

// Parses kubectl's List; NOT_FOUND when it holds neither a Job nor a pod of `job`.
train::Result<JobState> ParseJobState(std::string_view kubectl_json, const std::string& job);

// A summary line and a table of pods, for a terminal.
std::string FormatJobState(const JobState& state);

// The current pod of each node rank (not the failed ones already replaced).
std::map<int, const PodState*> CurrentPods(const JobState& state);

// Turns a line of `kubectl logs --prefix` ("[pod/<pod>/<container>] text") into
// "[node R] text" using `pods`; lines of unknown pods keep the pod's name.
std::string RankPrefixedLine(std::string_view line, const std::map<std::string, int>& pods);

// "[node R] " + line, for the log of a single pod.
std::string NodePrefix(int node_rank);

}  // namespace trainctl::k8s

#endif  // TRAINCTL_K8S_JOB_STATUS_H_
