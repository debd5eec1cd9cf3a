// Field documentation of the TrainingJob schema, from the comments in trainingjob.proto
// (embedded in the binary at build time), for `trainctl explain`.
#ifndef TRAINCTL_SPEC_SCHEMA_DOCS_H_
#define TRAINCTL_SPEC_SCHEMA_DOCS_H_

#include <string>
#include <string_view>

#include "train/status.h"

namespace trainctl::spec {

// The documentation of the field at `path` ("spec.rendezvous.port"; "" or "TrainingJob" for
// the whole document; list indexes such as "spec.env[0].name" are accepted): its type, its
// description, and the fields below it. NOT_FOUND, with a suggestion, for a path that names
// no field.
train::Result<std::string> ExplainField(std::string_view path);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_SCHEMA_DOCS_H_
