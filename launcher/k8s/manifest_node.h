// A manifest as a tree that keeps key order, so that rendering the same job twice gives the
// same bytes (the checked-in examples are compared with what `trainctl render` prints).
#ifndef TRAINCTL_K8S_MANIFEST_NODE_H_
#define TRAINCTL_K8S_MANIFEST_NODE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace trainctl::k8s {

class Node {
 public:
  enum class Kind { kMap, kList, kString, kInt, kBool };

  static Node Map() { return Node(Kind::kMap); }
  static Node List() { return Node(Kind::kList); }
  static Node Str(std::string value);
  static Node Int(std::int64_t value);
  static Node Bool(bool value);

  // Map: sets `key`, keeping the position of a key set before, else appending it.
  Node& Set(const std::string& key, Node value);
  Node& Set(const std::string& key, const char* value) { return Set(key, Str(value)); }
  Node& Set(const std::string& key, const std::string& value) { return Set(key, Str(value)); }
  // List: appends.
  Node& Add(Node value);

  Kind kind() const { return kind_; }
  bool empty() const { return kind_ == Kind::kMap ? entries_.empty() : items_.empty(); }
  const std::string& scalar() const { return scalar_; }
  const std::vector<std::pair<std::string, Node>>& entries() const { return entries_; }
  const std::vector<Node>& items() const { return items_; }

 private:
  explicit Node(Kind kind) : kind_(kind) {}

  Kind kind_;
  std::string scalar_;  // the text of a string, integer or boolean
  std::vector<std::pair<std::string, Node>> entries_;
  std::vector<Node> items_;
};

// Block-style YAML (two-space indents, list items indented under their key). Strings that YAML
// would read as another type ("8", "true", "null") are quoted; multi-line strings are literal
// blocks. Ends with a newline.
std::string ToYaml(const Node& document);

}  // namespace trainctl::k8s

#endif  // TRAINCTL_K8S_MANIFEST_NODE_H_
