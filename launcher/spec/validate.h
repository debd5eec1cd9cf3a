// Semantic checks of a TrainingJob: everything the schema alone cannot say.
#ifndef TRAINCTL_SPEC_VALIDATE_H_
#define TRAINCTL_SPEC_VALIDATE_H_

#include "diagnostics.h"
#include "launcher/spec/trainingjob.pb.h"

namespace trainctl::spec {

// Checks a job whose defaults are applied; every problem goes to `errors`, each naming the
// field path, the bad value, and what would be valid.
void Validate(const trainctl::v1alpha1::TrainingJob& job, Diagnostics* errors);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_VALIDATE_H_
