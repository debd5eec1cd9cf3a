// bfloat16 and float16 to and from float32, rounding to nearest even. Branch-free where it
// matters so the conversion loops vectorize.
#ifndef TRAIN_KERNELS_CPU_FLOAT_CONVERT_H_
#define TRAIN_KERNELS_CPU_FLOAT_CONVERT_H_

#include <bit>
#include <cstdint>

namespace train::cpu {

inline float BFloat16ToFloat(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

inline std::uint16_t FloatToBFloat16(float f) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  // NaN stays NaN (quiet) instead of rounding into infinity.
  const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return static_cast<std::uint16_t>(nan ? ((bits >> 16) | 0x40u) : rounded);
}

inline float Float16ToFloat(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in float32.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline std::uint16_t FloatToFloat16(float f) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  bits &= 0x7fffffffu;
  if (bits >= 0x7f800000u) {  // inf stays inf, NaN stays (quiet) NaN
    return static_cast<std::uint16_t>(sign | 0x7c00u | (bits > 0x7f800000u ? 0x200u : 0u));
  }
  if (bits >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (bits < 0x38800000u) {
    // Subnormal result: adding 0.5f lets the FPU round to nearest even at the half's ulp.
    constexpr std::uint32_t kMagic = 126u << 23;
    const float sum = std::bit_cast<float>(bits) + std::bit_cast<float>(kMagic);
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(sum) - kMagic));
  }
  const std::uint32_t odd = (bits >> 13) & 1u;
  bits += 0xc8000fffu + odd;  // rebias the exponent (-112 << 23) and round to nearest even
  return static_cast<std::uint16_t>(sign | (bits >> 13));
}

}  // namespace train::cpu

#endif  // TRAIN_KERNELS_CPU_FLOAT_CONVERT_H_
