// The numbers on a plot's axes and the curve drawn through noisy points: round ticks (1, 2 or 5
// times a power of ten), labels in human units (44k, 1.5M, 0.25), and TensorBoard's smoothing.
#ifndef TRAINCTL_REPORT_PLOT_SCALE_H_
#define TRAINCTL_REPORT_PLOT_SCALE_H_

#include <string>
#include <vector>

namespace trainctl::report {

struct Ticks {
  double lo = 0, hi = 1;  // the axis' ends: tick values, around the data
  double step = 1;
  std::vector<double> values;
};

// At most about `wanted` + 1 ticks spanning [lo, hi], every one a multiple of `step`.
Ticks NiceTicks(double lo, double hi, int wanted = 5);

// `value` as a tick label for ticks `step` apart: 44000 -> "44k", 1500000 -> "1.5M",
// 0.25 -> "0.25", 3 -> "3"; no exponents for -1e15..1e15 and steps down to 1e-6.
std::string HumanNumber(double value, double step);

// Exponential moving average with TensorBoard's debiasing (its "smoothing" slider): `weight` 0
// keeps the values, 0.99 flattens them. Non-finite values pass through, unsmoothed.
std::vector<double> Smooth(const std::vector<double>& values, double weight);

// The weight a curve of `count` points gets: 0 (raw) up to 10 points, rising to 0.9.
double SmoothingFor(std::size_t count);

}  // namespace trainctl::report

#endif  // TRAINCTL_REPORT_PLOT_SCALE_H_
