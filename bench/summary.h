// Medians and ranges of repeated measurements, and the table cells that show them.
#ifndef BENCH_SUMMARY_H_
#define BENCH_SUMMARY_H_

#include <string>
#include <vector>

namespace bench {

struct Summary {
  int count = 0;  // successful samples
  double median = 0, min = 0, max = 0;
};

Summary Summarize(std::vector<double> samples);

// "  0.123 [0.101, 0.150]" with `precision` decimals; "      n/a" without samples.
std::string Cell(const Summary& s, int precision);

// median(b) / median(a) as "12.3x", or "n/a".
std::string Ratio(const Summary& a, const Summary& b);

}  // namespace bench

#endif  // BENCH_SUMMARY_H_
