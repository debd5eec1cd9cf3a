// `trainctl render`: a TrainingJob as Kubernetes objects (the contract with `trainctl agent` is
// docs/kubernetes.md). Three formats: a plain Indexed Job (with its Secret, ConfigMap and
// headless Service), a JobSet, or a Kubeflow PyTorchJob.
#ifndef TRAINCTL_K8S_RENDER_H_
#define TRAINCTL_K8S_RENDER_H_

#include <string>
#include <string_view>
#include <vector>

#include "launcher/spec/trainingjob.pb.h"
#include "manifest_node.h"
#include "train/status.h"

namespace trainctl::k8s {

enum class Format { kJob, kJobSet, kPyTorchJob };

// "job", "jobset" or "pytorchjob"; the error lists them.
train::Result<Format> ParseFormat(std::string_view name);
const char* FormatName(Format format);

struct RenderOptions {
  Format format = Format::kJob;
  std::string token;  // the job's store token: 64 hex digits (train::NewToken's form)
};

// One Kubernetes object.
struct Manifest {
  std::string kind;
  std::string name;
  Node document;
};

// Something in a valid spec that cannot run as pods (hostPath, names too long for pod DNS).
struct RenderProblem {
  std::string path;  // the spec field, e.g. spec.storage.volumes[1].hostPath
  std::string message;
};

// Empty when `job` (validated, defaults applied) can be rendered in `format`.
std::vector<RenderProblem> CheckRenderable(const trainctl::v1alpha1::TrainingJob& job,
                                           Format format);

// The objects in apply order (Secret, ConfigMap, Service, then the workload). `job` must have
// passed validation and CheckRenderable.
std::vector<Manifest> Render(const trainctl::v1alpha1::TrainingJob& job,
                             const RenderOptions& options);

// The objects as one YAML stream ("---" between documents), ready for `kubectl apply -f -`.
std::string ToYamlStream(const std::vector<Manifest>& manifests);

// The file an object goes to with `render -o DIR`: "<name>.<kind in lowercase>.yaml".
std::string ManifestFileName(const Manifest& manifest);

// A token from a --token-file: its content less surrounding whitespace, which must be
// 64 hex digits; the error names the file and says how to make one.
train::Result<std::string> ReadRenderToken(const std::string& path);

}  // namespace trainctl::k8s

#endif  // TRAINCTL_K8S_RENDER_H_
