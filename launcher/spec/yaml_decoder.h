// YAML (or JSON) text -> a protobuf message, checked against the message's schema.
//
// The walk is driven by the message descriptor, so every field of trainingjob.proto is read
// the same way, and every mistake (an unknown field, a list where a number belongs) becomes a
// Diagnostic with the field path and the line:column where it was written.
#ifndef TRAINCTL_SPEC_YAML_DECODER_H_
#define TRAINCTL_SPEC_YAML_DECODER_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <string_view>

#include "diagnostics.h"

namespace trainctl::spec {

// Bounds on what a document may hold, checked in one streaming pass before any node is built,
// so that no input costs more than these: YAML nests at most kMaxYamlDepth collections deep
// (the parser recurses per level), and the nodes of the document, counting an alias as every
// node it repeats each time it is used, number at most kMaxYamlNodes (a "billion laughs" of
// aliases of aliases would otherwise expand without bound). A TrainingJob uses a few hundred
// nodes and 8 levels.
inline constexpr int kMaxYamlDepth = 64;
inline constexpr uint64_t kMaxYamlNodes = 100000;

// Fills `message` from `text` (one YAML document; JSON is YAML too), records where each field
// was written in `positions`, and reports every problem to `errors`. A document over the
// bounds above, or with an alias inside the node it names (a cycle), is one error at its
// position, and nothing is decoded.
void DecodeYaml(std::string_view text, google::protobuf::Message* message, SourceMap* positions,
                Diagnostics* errors);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_YAML_DECODER_H_
