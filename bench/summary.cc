#include "summary.h"

#include <algorithm>
#include <cstdio>

namespace bench {

Summary Summarize(std::vector<double> samples) {
  Summary s;
  s.count = static_cast<int>(samples.size());
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  s.median = n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

std::string Cell(const Summary& s, int precision) {
  if (s.count == 0) return "n/a";
  char text[96];
  std::snprintf(text, sizeof(text), "%.*f [%.*f, %.*f]", precision, s.median, precision, s.min,
                precision, s.max);
  return text;
}

std::string Ratio(const Summary& a, const Summary& b) {
  if (a.count == 0 || b.count == 0 || a.median <= 0) return "n/a";
  char text[32];
  std::snprintf(text, sizeof(text), "%.1fx", b.median / a.median);
  return text;
}

}  // namespace bench
