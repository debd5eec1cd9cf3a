#include "element_values.h"

#include <cmath>
#include <cstring>

#include "train/internal/half_float.h"
#include "train/status.h"

namespace train::testing {
namespace {

template <typename T>
T Load(const void* data, std::uint64_t index) {
  T value;
  std::memcpy(&value, static_cast<const char*>(data) + index * sizeof(T), sizeof(T));
  return value;
}

template <typename T>
void Store(void* data, std::uint64_t index, T value) {
  std::memcpy(static_cast<char*>(data) + index * sizeof(T), &value, sizeof(T));
}

float HalfToFloat(std::uint16_t bits) {
  const int sign = bits >> 15;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? INFINITY : NAN;
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

float BFloat16ToFloat(std::uint16_t bits) {
  const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

}  // namespace

double GetElement(DType dtype, const void* data, std::uint64_t index) {
  switch (dtype) {
    case DType::kFloat32:
      return Load<float>(data, index);
    case DType::kFloat64:
      return Load<double>(data, index);
    case DType::kFloat16:
      return HalfToFloat(Load<std::uint16_t>(data, index));
    case DType::kBFloat16:
      return BFloat16ToFloat(Load<std::uint16_t>(data, index));
    case DType::kInt32:
      return Load<std::int32_t>(data, index);
    case DType::kInt64:
      return static_cast<double>(Load<std::int64_t>(data, index));
    case DType::kUInt8:
      return Load<std::uint8_t>(data, index);
    default:
      TRAIN_CHECK(false && "not a collective dtype");
      return 0;
  }
}

void SetElement(DType dtype, void* data, std::uint64_t index, double value) {
  SetElementRounded(dtype, data, index, value);
  TRAIN_CHECK(GetElement(dtype, data, index) == value);  // exact values only
}

void SetElementRounded(DType dtype, void* data, std::uint64_t index, double value) {
  switch (dtype) {
    case DType::kFloat32:
      return Store(data, index, static_cast<float>(value));
    case DType::kFloat64:
      return Store(data, index, value);
    case DType::kFloat16:
      return Store(data, index, internal::ToFloat16(value));
    case DType::kBFloat16:
      return Store(data, index, internal::ToBFloat16(value));
    case DType::kInt32:
    case DType::kInt64:
    case DType::kUInt8:
      return SetIntegerElement(dtype, data, index, static_cast<std::int64_t>(value));
    default:
      TRAIN_CHECK(false && "not a collective dtype");
  }
}

void SetIntegerElement(DType dtype, void* data, std::uint64_t index, std::int64_t value) {
  switch (dtype) {
    case DType::kInt32:
      return Store(data, index, static_cast<std::int32_t>(value));
    case DType::kInt64:
      return Store(data, index, value);
    case DType::kUInt8:
      return Store(data, index,
                   static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) & 0xff));
    default:
      return SetElementRounded(dtype, data, index, static_cast<double>(value));
  }
}

}  // namespace train::testing
