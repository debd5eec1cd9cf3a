// Fields of a message by their JSON (camelCase) names: the names users write in a spec.
#ifndef TRAINCTL_SPEC_JSON_NAMES_H_
#define TRAINCTL_SPEC_JSON_NAMES_H_

#include <google/protobuf/descriptor.h>

#include <string>
#include <string_view>
#include <vector>

namespace trainctl::spec {

// The field of `type` called `name` in YAML/JSON, or nullptr.
const google::protobuf::FieldDescriptor* FieldByJsonName(const google::protobuf::Descriptor* type,
                                                         std::string_view name);

// Every field's JSON name, in schema order (for "valid fields are ..." and suggestions).
std::vector<std::string> JsonNames(const google::protobuf::Descriptor* type);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_JSON_NAMES_H_
