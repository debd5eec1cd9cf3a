#include "grad_buckets_wire.h"

#include <cstdint>

#include "train/internal/half_float.h"
#include "train/status.h"

namespace train::internal {
namespace {

// The conversion is a template argument, so that it is inlined and the loop vectorizes.
template <typename From, std::uint16_t (*kNarrow)(float)>
void NarrowLoop(const void* src, void* dst, std::uint64_t count) {
  const From* __restrict in = static_cast<const From*>(src);
  std::uint16_t* __restrict out = static_cast<std::uint16_t*>(dst);
  for (std::uint64_t i = 0; i < count; ++i) out[i] = kNarrow(static_cast<float>(in[i]));
}

template <typename To, float (*kWiden)(std::uint16_t)>
void WidenLoop(const void* src, void* dst, std::uint64_t count) {
  const std::uint16_t* __restrict in = static_cast<const std::uint16_t*>(src);
  To* __restrict out = static_cast<To*>(dst);
  for (std::uint64_t i = 0; i < count; ++i) out[i] = static_cast<To>(kWiden(in[i]));
}

}  // namespace

void NarrowToWire(DType from, const void* src, DType wire, void* dst, std::uint64_t count) {
  TRAIN_CHECK(wire == DType::kBFloat16 || wire == DType::kFloat16);
  TRAIN_CHECK(from == DType::kFloat32 || from == DType::kFloat64);
  const bool bf16 = wire == DType::kBFloat16;
  if (from == DType::kFloat32) {
    bf16 ? NarrowLoop<float, FloatToBFloat>(src, dst, count)
         : NarrowLoop<float, FloatToHalf>(src, dst, count);
  } else {
    bf16 ? NarrowLoop<double, FloatToBFloat>(src, dst, count)
         : NarrowLoop<double, FloatToHalf>(src, dst, count);
  }
}

void WidenFromWire(DType wire, const void* src, DType to, void* dst, std::uint64_t count) {
  TRAIN_CHECK(wire == DType::kBFloat16 || wire == DType::kFloat16);
  TRAIN_CHECK(to == DType::kFloat32 || to == DType::kFloat64);
  const bool bf16 = wire == DType::kBFloat16;
  if (to == DType::kFloat32) {
    bf16 ? WidenLoop<float, BFloatToFloat>(src, dst, count)
         : WidenLoop<float, HalfToFloat>(src, dst, count);
  } else {
    bf16 ? WidenLoop<double, BFloatToFloat>(src, dst, count)
         : WidenLoop<double, HalfToFloat>(src, dst, count);
  }
}

}  // namespace train::internal
