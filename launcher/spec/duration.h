// Kubernetes-style durations ("500ms", "2s", "10m", "1h30m"), as Go's time.ParseDuration.
#ifndef TRAINCTL_SPEC_DURATION_H_
#define TRAINCTL_SPEC_DURATION_H_

#include <chrono>
#include <string>
#include <string_view>

#include "train/status.h"

namespace trainctl::spec {

// Parses a non-negative duration: one or more <number><unit> with units ns, us, ms, s, m, h
// ("0" alone needs no unit). The error says what is wrong and shows a valid example.
train::Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);

// A duration from a spec that already passed validation, in milliseconds (0 if it does not
// parse, which validation rules out).
std::chrono::milliseconds ValidatedMillis(std::string_view text);

// The shortest exact form: 1500ms -> "1.5s", 90s -> "1m30s", 0 -> "0s".
std::string FormatDuration(std::chrono::nanoseconds duration);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_DURATION_H_
