// YAML (or JSON) text -> a protobuf message, checked against the message's schema.
//
// The walk is driven by the message descriptor, so every field of trainingjob.proto is read
// the same way, and every mistake (an unknown field, a list where a number belongs) becomes a
// Diagnostic with the field path and the line:column where it was written.
#ifndef TRAINCTL_SPEC_YAML_DECODER_H_
#define TRAINCTL_SPEC_YAML_DECODER_H_

#include <google/protobuf/message.h>

#include <string_view>

#include "diagnostics.h"

namespace trainctl::spec {

// Fills `message` from `text` (one YAML document; JSON is YAML too), records where each field
// was written in `positions`, and reports every problem to `errors`.
void DecodeYaml(std::string_view text, google::protobuf::Message* message, SourceMap* positions,
                Diagnostics* errors);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_YAML_DECODER_H_
