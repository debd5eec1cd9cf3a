// The wire conversions of GradientBuckets against a reference built another way: every 16-bit
// pattern widened, and float32 values narrowed to the nearest 16-bit value found by searching
// a sorted table of all of them (ties to the even pattern; past the largest finite value
// rounds to infinity, as IEEE rounding with an unbounded exponent says).
#include "grad_buckets_wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace train::internal {
namespace {

// The value of a 16-bit float pattern: `mantissa_bits` 7 (bfloat16) or 10 (float16).
double Decode(std::uint16_t h, int mantissa_bits) {
  const int exponent_bits = 15 - mantissa_bits;
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const int exponent = (h >> mantissa_bits) & ((1 << exponent_bits) - 1);
  const int mantissa = h & ((1 << mantissa_bits) - 1);
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == (1 << exponent_bits) - 1) {
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  }
  const double fraction = static_cast<double>(mantissa) / (1 << mantissa_bits);
  if (exponent == 0) return sign * std::ldexp(fraction, 1 - bias);
  return sign * std::ldexp(1.0 + fraction, exponent - bias);
}

struct Format {
  DType dtype;
  int mantissa_bits;
  std::uint16_t infinity;
};
constexpr Format kFormats[] = {{DType::kBFloat16, 7, 0x7f80}, {DType::kFloat16, 10, 0x7c00}};

// The nearest pattern to `value` (finite or infinite, not NaN), ties to even.
std::uint16_t Nearest(double value, const Format& format) {
  const std::uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const double magnitude = std::fabs(value);
  // Non-negative patterns in order; infinity stands one ulp past the largest finite value.
  const double past_max = 2 * Decode(format.infinity - 1, format.mantissa_bits) -
                          Decode(format.infinity - 2, format.mantissa_bits);
  auto value_of = [&](std::uint16_t h) {
    return h == format.infinity ? past_max : Decode(h, format.mantissa_bits);
  };
  if (magnitude >= past_max) return sign | format.infinity;
  std::uint16_t lo = 0;
  std::uint16_t hi = format.infinity;
  while (hi - lo > 1) {  // value_of(lo) <= magnitude < value_of(hi)
    const auto mid = static_cast<std::uint16_t>((lo + hi) / 2);
    (value_of(mid) <= magnitude ? lo : hi) = mid;
  }
  const double below = magnitude - value_of(lo);
  const double above = value_of(hi) - magnitude;
  const std::uint16_t pick = below < above ? lo : above < below ? hi : (lo % 2 == 0 ? lo : hi);
  return sign | pick;
}

std::vector<float> NarrowingInputs(const Format& format) {
  std::vector<float> inputs = {0.0f,
                               -0.0f,
                               1.0f,
                               -1.0f,
                               65504.0f,
                               65519.99f,
                               65520.0f,
                               -65520.0f,
                               3.0e38f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::denorm_min(),
                               1e-8f,
                               5.96e-8f,
                               2.98e-8f,
                               2.99e-8f};
  // Around every midpoint between neighbouring patterns: the midpoint and a float either side.
  for (std::uint32_t h = 0; h + 1 < format.infinity; h += 7) {
    const double mid = (Decode(static_cast<std::uint16_t>(h), format.mantissa_bits) +
                        Decode(static_cast<std::uint16_t>(h + 1), format.mantissa_bits)) /
                       2;
    const float f = static_cast<float>(mid);
    for (float x :
         {f, std::nextafter(f, 0.0f), std::nextafter(f, std::numeric_limits<float>::infinity())}) {
      inputs.push_back(x);
      inputs.push_back(-x);
    }
  }
  std::mt19937 random(7);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::bit_cast<float>(static_cast<std::uint32_t>(random()));
    if (!std::isnan(x)) inputs.push_back(x);
  }
  return inputs;
}

TEST(GradBucketsWire, EveryPatternWidensExactly) {
  for (const Format& format : kFormats) {
    std::vector<std::uint16_t> all(65536);
    for (std::uint32_t h = 0; h < all.size(); ++h) all[h] = static_cast<std::uint16_t>(h);
    std::vector<float> as_float(all.size());
    std::vector<double> as_double(all.size());
    WidenFromWire(format.dtype, all.data(), DType::kFloat32, as_float.data(), all.size());
    WidenFromWire(format.dtype, all.data(), DType::kFloat64, as_double.data(), all.size());
    for (std::uint32_t h = 0; h < all.size(); ++h) {
      const double expected = Decode(static_cast<std::uint16_t>(h), format.mantissa_bits);
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(as_float[h]) && std::isnan(as_double[h])) << std::hex << h;
        continue;
      }
      ASSERT_EQ(std::bit_cast<std::uint64_t>(static_cast<double>(as_float[h])),
                std::bit_cast<std::uint64_t>(expected))
          << DTypeName(format.dtype) << " pattern 0x" << std::hex << h;
      ASSERT_EQ(std::bit_cast<std::uint64_t>(as_double[h]), std::bit_cast<std::uint64_t>(expected))
          << DTypeName(format.dtype) << " pattern 0x" << std::hex << h;
    }
  }
}

TEST(GradBucketsWire, NarrowingRoundsToTheNearestEven) {
  for (const Format& format : kFormats) {
    const std::vector<float> inputs = NarrowingInputs(format);
    std::vector<std::uint16_t> got(inputs.size());
    NarrowToWire(DType::kFloat32, inputs.data(), format.dtype, got.data(), inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      ASSERT_EQ(got[i], Nearest(inputs[i], format))
          << DTypeName(format.dtype) << " of " << std::hexfloat << inputs[i];
    }
    // float64 is rounded to float32 first.
    std::vector<double> wide(inputs.begin(), inputs.end());
    std::vector<std::uint16_t> from_double(wide.size());
    NarrowToWire(DType::kFloat64, wide.data(), format.dtype, from_double.data(), wide.size());
    EXPECT_TRUE(from_double == got) << DTypeName(format.dtype);
  }
}

TEST(GradBucketsWire, NanStaysNanAndKeepsItsSign) {
  for (const Format& format : kFormats) {
    const float nans[] = {std::numeric_limits<float>::quiet_NaN(),
                          -std::numeric_limits<float>::quiet_NaN(),
                          std::bit_cast<float>(0x7f800001u), std::bit_cast<float>(0xff800001u)};
    std::uint16_t got[4];
    NarrowToWire(DType::kFloat32, nans, format.dtype, got, 4);
    for (int i = 0; i < 4; ++i) {
      EXPECT_TRUE(std::isnan(Decode(got[i], format.mantissa_bits)))
          << DTypeName(format.dtype) << " " << std::hex << got[i];
      EXPECT_EQ(got[i] & 0x8000, std::signbit(nans[i]) ? 0x8000 : 0) << DTypeName(format.dtype);
    }
  }
}

}  // namespace
}  // namespace train::internal
