// "Did you mean ...?" for misspelled field names and values.
#ifndef TRAINCTL_SPEC_SUGGEST_H_
#define TRAINCTL_SPEC_SUGGEST_H_

#include <string>
#include <string_view>
#include <vector>

namespace trainctl::spec {

// The candidate closest to `word` (case-insensitive edit distance), or "" when none is close
// enough to be a plausible typo (distance at most a third of the word's length, at least 1...2).
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// "a, b or c" for error messages.
std::string JoinAlternatives(const std::vector<std::string>& items);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_SUGGEST_H_
