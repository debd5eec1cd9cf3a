// A protobuf message -> YAML with the JSON (camelCase) field names, in schema order.
#ifndef TRAINCTL_SPEC_YAML_ENCODER_H_
#define TRAINCTL_SPEC_YAML_ENCODER_H_

#include <google/protobuf/message.h>

#include <string>

namespace trainctl::spec {

// Set fields only (proto3 scalars at their zero value count as unset); strings that YAML would
// read back as a number, boolean or null are quoted, so the output parses to the same message.
std::string EncodeYaml(const google::protobuf::Message& message);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_YAML_ENCODER_H_
