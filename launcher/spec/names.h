// Name syntaxes shared with Kubernetes: DNS-1123 labels, label keys and values, env names.
#ifndef TRAINCTL_SPEC_NAMES_H_
#define TRAINCTL_SPEC_NAMES_H_

#include <string>
#include <string_view>

namespace trainctl::spec {

// Each returns "" when `text` is valid, else why it is not (for an error message).
std::string CheckDns1123Label(std::string_view text);      // "fashion-mnist"
std::string CheckDns1123Subdomain(std::string_view text);  // "nvidia.com"
std::string CheckLabelKey(std::string_view text);          // "app.kubernetes.io/name"
std::string CheckLabelValue(std::string_view text);        // "" or "vision-team"
std::string CheckEnvName(std::string_view text);           // "OMP_NUM_THREADS"

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_NAMES_H_
