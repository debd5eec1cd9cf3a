// Placement of the pods: priority, scheduler, node selector, affinity, tolerations and
// topology spread, from spec.scheduling.
#include <map>

#include "object_meta.h"
#include "objects.h"

namespace trainctl::k8s {
namespace {

namespace v1 = trainctl::v1alpha1;

Node Expression(const std::string& key, const std::string& op,
                const google::protobuf::RepeatedPtrField<std::string>& values) {
  Node expression = Node::Map();
  expression.Set("key", key);
  expression.Set("operator", op);
  if (!values.empty()) {
    Node list = Node::List();
    for (const std::string& value : values) list.Add(Node::Str(value));
    expression.Set("values", std::move(list));
  }
  return expression;
}

Node NodeAffinity(const v1::Affinity& affinity) {
  Node node_affinity = Node::Map();
  if (affinity.required_node_expressions_size() > 0) {
    Node expressions = Node::List();
    for (const v1::NodeSelectorRequirement& e : affinity.required_node_expressions()) {
      expressions.Add(Expression(e.key(), e.operator_(), e.values()));
    }
    // One term holding every expression: a node must match all of them.
    Node term = Node::Map();
    term.Set("matchExpressions", std::move(expressions));
    Node required = Node::Map();
    required.Set("nodeSelectorTerms", Node::List().Add(std::move(term)));
    node_affinity.Set("requiredDuringSchedulingIgnoredDuringExecution", std::move(required));
  }
  if (affinity.preferred_node_expressions_size() > 0) {
    Node preferred = Node::List();
    for (const v1::PreferredNodeExpression& e : affinity.preferred_node_expressions()) {
      Node preference = Node::Map();
      preference.Set("matchExpressions",
                     Node::List().Add(Expression(e.key(), e.operator_(), e.values())));
      Node item = Node::Map();
      item.Set("weight", Node::Int(e.weight()));
      item.Set("preference", std::move(preference));
      preferred.Add(std::move(item));
    }
    node_affinity.Set("preferredDuringSchedulingIgnoredDuringExecution", std::move(preferred));
  }
  return node_affinity;
}

// A required (anti-)affinity to the job's own pods over `topology_key`.
Node PodAffinityTerm(const TrainingJob& job, const std::string& topology_key) {
  Node term = Node::Map();
  term.Set("labelSelector", JobPodSelector(job));
  term.Set("topologyKey", topology_key);
  Node affinity = Node::Map();
  affinity.Set("requiredDuringSchedulingIgnoredDuringExecution", Node::List().Add(std::move(term)));
  return affinity;
}

Node Affinity(const TrainingJob& job) {
  const v1::Affinity& spec = job.spec().scheduling().affinity();
  Node affinity = Node::Map();
  Node node_affinity = NodeAffinity(spec);
  if (!node_affinity.empty()) affinity.Set("nodeAffinity", std::move(node_affinity));
  if (!spec.pods_together_by().empty()) {
    affinity.Set("podAffinity", PodAffinityTerm(job, spec.pods_together_by()));
  }
  if (!spec.pods_apart_by().empty()) {
    affinity.Set("podAntiAffinity", PodAffinityTerm(job, spec.pods_apart_by()));
  }
  return affinity;
}

Node Tolerations(const v1::Scheduling& scheduling) {
  Node tolerations = Node::List();
  for (const v1::Toleration& t : scheduling.tolerations()) {
    Node toleration = Node::Map();
    if (!t.key().empty()) toleration.Set("key", t.key());
    toleration.Set("operator", t.operator_());
    if (!t.value().empty()) toleration.Set("value", t.value());
    if (!t.effect().empty()) toleration.Set("effect", t.effect());
    if (t.has_toleration_seconds()) {
      toleration.Set("tolerationSeconds", Node::Int(t.toleration_seconds()));
    }
    tolerations.Add(std::move(toleration));
  }
  return tolerations;
}

Node TopologySpread(const TrainingJob& job) {
  Node constraints = Node::List();
  for (const v1::TopologySpread& t : job.spec().scheduling().topology_spread()) {
    Node constraint = Node::Map();
    constraint.Set("maxSkew", Node::Int(t.max_skew()));
    constraint.Set("topologyKey", t.topology_key());
    constraint.Set("whenUnsatisfiable", t.when_unsatisfiable());
    constraint.Set("labelSelector", JobPodSelector(job));
    constraints.Add(std::move(constraint));
  }
  return constraints;
}

}  // namespace

void SetScheduling(const TrainingJob& job, Node* pod) {
  const v1::Scheduling& scheduling = job.spec().scheduling();
  if (!scheduling.priority_class_name().empty()) {
    pod->Set("priorityClassName", scheduling.priority_class_name());
  }
  if (!scheduling.scheduler_name().empty()) pod->Set("schedulerName", scheduling.scheduler_name());
  if (!scheduling.node_selector().empty()) {
    const std::map<std::string, std::string> sorted(scheduling.node_selector().begin(),
                                                    scheduling.node_selector().end());
    Node selector = Node::Map();
    for (const auto& [key, value] : sorted) selector.Set(key, value);
    pod->Set("nodeSelector", std::move(selector));
  }
  Node affinity = Affinity(job);
  if (!affinity.empty()) pod->Set("affinity", std::move(affinity));
  Node tolerations = Tolerations(scheduling);
  if (!tolerations.empty()) pod->Set("tolerations", std::move(tolerations));
  Node spread = TopologySpread(job);
  if (!spread.empty()) pod->Set("topologySpreadConstraints", std::move(spread));
}

}  // namespace trainctl::k8s
