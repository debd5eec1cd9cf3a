// float16 and bfloat16, the one implementation libtrain has: to and from float32 for the
// collectives' reductions and wire formats and the CPU optimizers (inline, branch-free: integer
// bit manipulation plus selects, so that loops over them vectorize at -O3 for generic x86-64),
// and from double for the dataset reader (one rounding step, whatever the source type).
// Every conversion rounds to nearest even; NaN stays NaN (quiet), the sign is kept.
#ifndef TRAIN_INTERNAL_HALF_FLOAT_H_
#define TRAIN_INTERNAL_HALF_FLOAT_H_

#include <bit>
#include <cstddef>
#include <cstdint>

#include "train/dtype.h"

namespace train::internal {

// Masks for selects, from arithmetic shifts (C++20 defines >> of a negative value): all ones
// when a < b, else zero, for a and b in [0, 2^31) so that a - b cannot overflow. Selects as
// masks keep the compiler from turning them into branches around floating-point operations,
// which would stop the loop from vectorizing.
namespace half_float_detail {

inline std::int32_t LessMask(std::int32_t a, std::int32_t b) { return (a - b) >> 31; }

inline std::int32_t Select(std::int32_t mask, std::int32_t if_set, std::int32_t if_clear) {
  return (if_set & mask) | (if_clear & ~mask);
}

}  // namespace half_float_detail

inline float HalfToFloat(std::uint16_t h) {
  using half_float_detail::LessMask;
  using half_float_detail::Select;
  const std::int32_t magnitude = h & 0x7fff;
  const std::int32_t sign = static_cast<std::int32_t>(h & 0x8000) << 16;
  const std::int32_t shifted = magnitude << 13;
  // Normal numbers: rebias the exponent from 15 to 127.
  const std::int32_t normal = shifted + 0x38000000;
  // Infinity and NaN: exponent 31 becomes 255 (the payload is kept).
  const std::int32_t special = shifted + 0x70000000;
  // Zero and subnormals: magnitude * 2^-24 is exact in float32.
  const std::int32_t subnormal =
      std::bit_cast<std::int32_t>(static_cast<float>(magnitude) * 0x1p-24f);
  std::int32_t bits = Select(LessMask(magnitude, 0x0400), subnormal, normal);
  bits = Select(LessMask(0x7bff, magnitude), special, bits);
  return std::bit_cast<float>(bits | sign);
}

inline std::uint16_t FloatToHalf(float f) {
  using half_float_detail::LessMask;
  using half_float_detail::Select;
  const std::int32_t x = std::bit_cast<std::int32_t>(f);
  const std::int32_t sign = (x >> 16) & 0x8000;
  const std::int32_t a = x & 0x7fffffff;
  // Normal range: rebias (-112 << 23) and round to nearest even at bit 13; anything that
  // rounds past 65504 (infinity included) saturates to 0x7c00, infinity.
  const std::int32_t odd = (a >> 13) & 1;
  std::int32_t normal = (a - 0x38000000 + 0x0fff + odd) >> 13;
  normal = Select(LessMask(0x7c00, normal), 0x7c00, normal);
  // Below 2^-14 the result is subnormal: adding 0.5f makes the FPU round at 2^-24, the
  // subnormal ulp, to nearest even; the low bits of the sum are the result (0x400 when it
  // rounds up to the smallest normal, which is also the right encoding).
  const float biased = std::bit_cast<float>(a) + 0.5f;
  const std::int32_t subnormal = std::bit_cast<std::int32_t>(biased) - 0x3f000000;
  // NaN stays NaN: keep the top of the payload and set the quiet bit.
  const std::int32_t nan = 0x7e00 | ((a >> 13) & 0x3ff);
  std::int32_t result = Select(LessMask(a, 0x38800000), subnormal, normal);
  result = Select(LessMask(0x7f800000, a), nan, result);
  return static_cast<std::uint16_t>(result | sign);
}

inline float BFloatToFloat(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

inline std::uint16_t FloatToBFloat(float f) {
  using half_float_detail::LessMask;
  using half_float_detail::Select;
  const std::int32_t x = std::bit_cast<std::int32_t>(f);
  const std::uint32_t u = static_cast<std::uint32_t>(x);
  const std::int32_t rounded = static_cast<std::int32_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  const std::int32_t nan = static_cast<std::int32_t>((u >> 16) | 0x40u);  // quiet; sign kept
  const std::int32_t result = Select(LessMask(0x7f800000, x & 0x7fffffff), nan, rounded);
  return static_cast<std::uint16_t>(result);
}

// The IEEE binary16 / bfloat16 bits nearest to `value`, ties to even; overflow gives infinity,
// NaN stays NaN (quiet) and the sign is kept, also on zero.
std::uint16_t ToFloat16(double value);
std::uint16_t ToBFloat16(double value);

// Rounds `count` doubles to `dtype` (kFloat16 or kBFloat16), writing 2 bytes each.
void RoundToHalf(const double* in, std::size_t count, DType dtype, std::byte* out);

}  // namespace train::internal

#endif  // TRAIN_INTERNAL_HALF_FLOAT_H_
