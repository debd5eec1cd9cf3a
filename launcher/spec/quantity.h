// Kubernetes resource quantities ("2", "500m", "4Gi", "1.5G", "1e3").
#ifndef TRAINCTL_SPEC_QUANTITY_H_
#define TRAINCTL_SPEC_QUANTITY_H_

#include <string_view>

#include "train/status.h"

namespace trainctl::spec {

// The value of a non-negative quantity in base units (cores, bytes). Decimal suffixes
// m k M G T P E, binary suffixes Ki Mi Gi Ti Pi Ei, or an exponent (e3). The error names
// the suffix a user probably meant ("4GB" -> "4G" or "4Gi").
train::Result<double> ParseQuantity(std::string_view text);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_QUANTITY_H_
