// The headless Service that gives each pod of the Indexed Job a stable DNS name.
#include "names.h"
#include "object_meta.h"
#include "objects.h"

namespace trainctl::k8s {

Node HeadlessService(const TrainingJob& job) {
  const std::string& name = job.metadata().name();
  Node service = Node::Map();
  service.Set("apiVersion", "v1");
  service.Set("kind", "Service");
  service.Set("metadata", ObjectMeta(job, name));
  Node spec = Node::Map();
  spec.Set("clusterIP", "None");
  // Pod names must resolve before the pods are ready: the store they reach is what makes
  // them ready.
  spec.Set("publishNotReadyAddresses", Node::Bool(true));
  Node selector = Node::Map();
  selector.Set(kJobNameLabel, name);
  spec.Set("selector", std::move(selector));
  Node port = Node::Map();
  port.Set("name", "rendezvous");
  port.Set("port", Node::Int(job.spec().rendezvous().port()));
  port.Set("targetPort", Node::Int(job.spec().rendezvous().port()));
  port.Set("protocol", "TCP");
  spec.Set("ports", Node::List().Add(std::move(port)));
  service.Set("spec", std::move(spec));
  return service;
}

}  // namespace trainctl::k8s
