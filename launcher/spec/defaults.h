// The documented defaults of a TrainingJob (each field's "Default:" in trainingjob.proto).
#ifndef TRAINCTL_SPEC_DEFAULTS_H_
#define TRAINCTL_SPEC_DEFAULTS_H_

#include "launcher/spec/trainingjob.pb.h"

namespace trainctl::spec {

// Fills every unset field that has a default. Fields set by the user are never changed.
void ApplyDefaults(trainctl::v1alpha1::TrainingJob* job);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_DEFAULTS_H_
