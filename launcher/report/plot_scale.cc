#include "plot_scale.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace trainctl::report {

Ticks NiceTicks(double lo, double hi, int wanted) {
  Ticks t;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
    // One value: a unit around it, so that the line sits in the middle.
    const double half = std::max(std::fabs(hi) * 0.1, 0.5);
    lo -= half;
    hi += half;
  }
  const double raw = (hi - lo) / std::max(1, wanted);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude * 10;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * magnitude * (1 + 1e-9)) {
      step = m * magnitude;
      break;
    }
  }
  t.step = step;
  t.lo = std::floor(lo / step + 1e-9) * step;
  t.hi = std::ceil(hi / step - 1e-9) * step;
  for (double v = t.lo; v <= t.hi + step * 1e-6; v += step) {
    t.values.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);  // no "-0"
  }
  return t;
}

std::string HumanNumber(double value, double step) {
  struct Unit {
    double scale;
    const char* suffix;
  };
  const Unit units[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
  Unit unit{1, ""};
  for (const Unit& u : units) {
    if (std::max(std::fabs(value), std::fabs(step)) >= u.scale) {
      unit = u;
      break;
    }
  }
  const double scaled_step = std::fabs(step) / unit.scale;
  int decimals = 0;
  // Enough decimals that neighbouring ticks differ: none for steps of 1 and above.
  while (decimals < 6 && std::fabs(scaled_step * std::pow(10.0, decimals) -
                                   std::round(scaled_step * std::pow(10.0, decimals))) > 1e-6) {
    ++decimals;
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f%s", decimals, value / unit.scale, unit.suffix);
  std::string text = buffer;
  if (text.rfind("-0", 0) == 0 && std::strtod(text.c_str(), nullptr) == 0) text.erase(0, 1);
  return text;
}

std::vector<double> Smooth(const std::vector<double>& values, double weight) {
  std::vector<double> out;
  out.reserve(values.size());
  double last = 0;
  int count = 0;
  for (double v : values) {
    if (!std::isfinite(v)) {
      out.push_back(v);
      continue;
    }
    last = last * weight + (1 - weight) * v;
    ++count;
    const double debias = weight == 1 ? 1 : 1 - std::pow(weight, count);
    out.push_back(last / debias);
  }
  return out;
}

double SmoothingFor(std::size_t count) {
  if (count <= 10) return 0;
  // More points, more smoothing: 0.6 at 20 points (TensorBoard's default), 0.85 at 1000, at
  // most 0.9 (from about 2000).
  return std::min(0.9, 0.6 + 0.15 * std::log10(static_cast<double>(count) / 20.0));
}

}  // namespace trainctl::report
