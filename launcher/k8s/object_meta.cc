#include "object_meta.h"

#include <map>

#include "names.h"

namespace trainctl::k8s {
namespace {

Node SortedMap(const google::protobuf::Map<std::string, std::string>& values) {
  const std::map<std::string, std::string> sorted(values.begin(), values.end());
  Node node = Node::Map();
  for (const auto& [key, value] : sorted) node.Set(key, value);
  return node;
}

}  // namespace

Node JobLabels(const trainctl::v1alpha1::TrainingJob& job, bool managed_by) {
  Node labels = SortedMap(job.metadata().labels());
  if (managed_by) labels.Set(kManagedByLabel, "trainctl");
  labels.Set(kJobNameLabel, job.metadata().name());
  return labels;
}

Node JobAnnotations(const trainctl::v1alpha1::TrainingJob& job) {
  return SortedMap(job.metadata().annotations());
}

Node ObjectMeta(const trainctl::v1alpha1::TrainingJob& job, const std::string& name,
                bool workload) {
  Node meta = Node::Map();
  meta.Set("name", name);
  meta.Set("namespace", job.metadata().namespace_());
  Node labels = JobLabels(job);
  if (workload && !job.spec().scheduling().queue().empty()) {
    labels.Set(kQueueLabel, job.spec().scheduling().queue());
  }
  meta.Set("labels", std::move(labels));
  Node annotations = JobAnnotations(job);
  if (!annotations.empty()) meta.Set("annotations", std::move(annotations));
  return meta;
}

Node JobPodSelector(const trainctl::v1alpha1::TrainingJob& job) {
  Node match = Node::Map();
  match.Set(kJobNameLabel, job.metadata().name());
  Node selector = Node::Map();
  selector.Set("matchLabels", std::move(match));
  return selector;
}

}  // namespace trainctl::k8s
