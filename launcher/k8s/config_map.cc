// The spec, every default filled in, as a ConfigMap the agents read.
#include "launcher/spec/yaml_encoder.h"
#include "names.h"
#include "object_meta.h"
#include "objects.h"

namespace trainctl::k8s {

Node SpecConfigMap(const TrainingJob& job) {
  Node config = Node::Map();
  config.Set("apiVersion", "v1");
  config.Set("kind", "ConfigMap");
  config.Set("metadata", ObjectMeta(job, SpecConfigMapName(job.metadata().name())));
  Node data = Node::Map();
  data.Set("job.yaml", spec::EncodeYaml(job));
  config.Set("data", std::move(data));
  return config;
}

}  // namespace trainctl::k8s
