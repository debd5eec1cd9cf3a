// metadata blocks and label selectors of the rendered objects.
#ifndef TRAINCTL_K8S_OBJECT_META_H_
#define TRAINCTL_K8S_OBJECT_META_H_

#include <string>

#include "launcher/spec/trainingjob.pb.h"
#include "manifest_node.h"

namespace trainctl::k8s {

// The spec's labels (sorted by key) plus trainctl.dev/job-name; with `managed_by`, also
// app.kubernetes.io/managed-by: trainctl.
Node JobLabels(const trainctl::v1alpha1::TrainingJob& job, bool managed_by = true);

// The spec's annotations, sorted by key (an empty map when there are none).
Node JobAnnotations(const trainctl::v1alpha1::TrainingJob& job);

// {name, namespace, labels, annotations}; with `workload`, the queue label too (the object a
// queueing system admits).
Node ObjectMeta(const trainctl::v1alpha1::TrainingJob& job, const std::string& name,
                bool workload = false);

// {matchLabels: {trainctl.dev/job-name: <job>}}: every pod of the job.
Node JobPodSelector(const trainctl::v1alpha1::TrainingJob& job);

}  // namespace trainctl::k8s

#endif  // TRAINCTL_K8S_OBJECT_META_H_
