#include "json_names.h"

namespace trainctl::spec {

const google::protobuf::FieldDescriptor* FieldByJsonName(const google::protobuf::Descriptor* type,
                                                         std::string_view name) {
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == name) return type->field(i);
  }
  return nullptr;
}

std::vector<std::string> JsonNames(const google::protobuf::Descriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->json_name());
  return names;
}

}  // namespace trainctl::spec
