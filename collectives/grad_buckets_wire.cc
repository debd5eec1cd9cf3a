#include "grad_buckets_wire.h"

#include <bit>
#include <cstdint>

#include "train/status.h"

namespace train::internal {
namespace {

float BFloat16ToFloat(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

std::uint16_t FloatToBFloat16(float f) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  // A NaN would round into infinity: keep it a (quiet) NaN.
  const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return static_cast<std::uint16_t>(nan ? ((bits >> 16) | 0x40u) : rounded);
}

float Float16ToFloat(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float32
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

std::uint16_t FloatToFloat16(float f) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  bits &= 0x7fffffffu;
  if (bits >= 0x7f800000u) {  // infinity stays infinity, NaN stays a quiet NaN
    return static_cast<std::uint16_t>(sign | 0x7c00u | (bits > 0x7f800000u ? 0x200u : 0u));
  }
  if (bits >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflows
  if (bits < 0x38800000u) {
    // A subnormal half: adding 0.5f makes the FPU round at the half's last place.
    constexpr std::uint32_t kHalf = 126u << 23;
    const float sum = std::bit_cast<float>(bits) + std::bit_cast<float>(kHalf);
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(sum) - kHalf));
  }
  const std::uint32_t odd = (bits >> 13) & 1u;
  bits += 0xc8000fffu + odd;  // rebias the exponent by -112 and round to nearest even
  return static_cast<std::uint16_t>(sign | (bits >> 13));
}

template <typename From, typename Narrow>
void NarrowLoop(const void* src, void* dst, std::uint64_t count, Narrow narrow) {
  const From* in = static_cast<const From*>(src);
  std::uint16_t* out = static_cast<std::uint16_t*>(dst);
  for (std::uint64_t i = 0; i < count; ++i) out[i] = narrow(static_cast<float>(in[i]));
}

template <typename To, typename Widen>
void WidenLoop(const void* src, void* dst, std::uint64_t count, Widen widen) {
  const std::uint16_t* in = static_cast<const std::uint16_t*>(src);
  To* out = static_cast<To*>(dst);
  for (std::uint64_t i = 0; i < count; ++i) out[i] = static_cast<To>(widen(in[i]));
}

}  // namespace

void NarrowToWire(DType from, const void* src, DType wire, void* dst, std::uint64_t count) {
  TRAIN_CHECK(wire == DType::kBFloat16 || wire == DType::kFloat16);
  TRAIN_CHECK(from == DType::kFloat32 || from == DType::kFloat64);
  const bool bf16 = wire == DType::kBFloat16;
  if (from == DType::kFloat32) {
    bf16 ? NarrowLoop<float>(src, dst, count, FloatToBFloat16)
         : NarrowLoop<float>(src, dst, count, FloatToFloat16);
  } else {
    bf16 ? NarrowLoop<double>(src, dst, count, FloatToBFloat16)
         : NarrowLoop<double>(src, dst, count, FloatToFloat16);
  }
}

void WidenFromWire(DType wire, const void* src, DType to, void* dst, std::uint64_t count) {
  TRAIN_CHECK(wire == DType::kBFloat16 || wire == DType::kFloat16);
  TRAIN_CHECK(to == DType::kFloat32 || to == DType::kFloat64);
  const bool bf16 = wire == DType::kBFloat16;
  if (to == DType::kFloat32) {
    bf16 ? WidenLoop<float>(src, dst, count, BFloat16ToFloat)
         : WidenLoop<float>(src, dst, count, Float16ToFloat);
  } else {
    bf16 ? WidenLoop<double>(src, dst, count, BFloat16ToFloat)
         : WidenLoop<double>(src, dst, count, Float16ToFloat);
  }
}

}  // namespace train::internal
