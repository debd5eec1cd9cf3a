#include "train/internal/half_float.h"

#include <bit>
#include <cstring>

namespace train::internal {
namespace {

// Rounds a double to a binary float with `exp_bits` exponent and `mant_bits` fraction bits
// (IEEE layout, bias 2^(exp_bits-1) - 1), ties to even. Working from the double's bits keeps
// it exact: one rounding step, whatever the source type was (every float32 is a double).
std::uint16_t RoundDouble(double value, int exp_bits, int mant_bits) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(value);
  const std::uint32_t sign = static_cast<std::uint32_t>(bits >> 63) << (exp_bits + mant_bits);
  const int exp = static_cast<int>((bits >> 52) & 0x7ff);
  const std::uint64_t fraction = bits & ((std::uint64_t{1} << 52) - 1);
  const std::uint32_t exp_all_ones = ((1u << exp_bits) - 1) << mant_bits;
  if (exp == 0x7ff) {
    if (fraction == 0) return static_cast<std::uint16_t>(sign | exp_all_ones);         // infinity
    return static_cast<std::uint16_t>(sign | exp_all_ones | (1u << (mant_bits - 1)));  // NaN
  }
  // Zero, or a double subnormal: far below half the target's smallest subnormal.
  if (exp == 0) return static_cast<std::uint16_t>(sign);

  const int bias = (1 << (exp_bits - 1)) - 1;
  int target_exp = exp - 1023 + bias;
  const std::uint64_t significand = (std::uint64_t{1} << 52) | fraction;  // 53 bits
  // Normal results keep mant_bits fraction bits; subnormal ones (target_exp < 1) fewer.
  const int shift = 52 - mant_bits + (target_exp < 1 ? 1 - target_exp : 0);
  if (shift > 53) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal

  std::uint64_t q = significand >> shift;
  const std::uint64_t rest = significand & ((std::uint64_t{1} << shift) - 1);
  const std::uint64_t half = std::uint64_t{1} << (shift - 1);
  if (rest > half || (rest == half && (q & 1) != 0)) ++q;

  // A subnormal is its significand with a zero exponent field; rounding up to 2^mant_bits
  // carries into that field and gives the smallest normal, which is the right encoding.
  if (target_exp < 1) return static_cast<std::uint16_t>(sign | q);
  if ((q >> (mant_bits + 1)) != 0) {  // rounding carried into the next binade
    q >>= 1;
    ++target_exp;
  }
  if (target_exp >= (1 << exp_bits) - 1) return static_cast<std::uint16_t>(sign | exp_all_ones);
  const std::uint64_t mant_mask = (std::uint64_t{1} << mant_bits) - 1;
  return static_cast<std::uint16_t>(sign | (static_cast<std::uint32_t>(target_exp) << mant_bits) |
                                    (q & mant_mask));
}

}  // namespace

std::uint16_t ToFloat16(double value) { return RoundDouble(value, 5, 10); }
std::uint16_t ToBFloat16(double value) { return RoundDouble(value, 8, 7); }

void RoundToHalf(const double* in, std::size_t count, DType dtype, std::byte* out) {
  const bool bfloat = dtype == DType::kBFloat16;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint16_t h = bfloat ? ToBFloat16(in[i]) : ToFloat16(in[i]);
    std::memcpy(out + 2 * i, &h, sizeof(h));
  }
}

}  // namespace train::internal
