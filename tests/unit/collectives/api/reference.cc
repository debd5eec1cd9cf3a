#include "reference.h"

#include <cmath>
#include <cstring>

namespace train::testing {
namespace {

// Normal-range values only (the data here): rounds the mantissa to 10 bits, ties to even.
std::uint16_t HalfBits(float value) {
  std::uint32_t f;
  std::memcpy(&f, &value, 4);
  const std::uint32_t sign = (f >> 16) & 0x8000u;
  if (value == 0.0f) return static_cast<std::uint16_t>(sign);
  std::uint32_t magnitude = f & 0x7fffffffu;
  magnitude += 0xfff + ((magnitude >> 13) & 1);  // carries into the exponent when it must
  const int exponent = static_cast<int>(magnitude >> 23) - 127 + 15;
  return static_cast<std::uint16_t>(sign | (exponent << 10) | ((magnitude >> 13) & 0x3ff));
}

float HalfValue(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const float magnitude =
      exponent == 0 ? std::ldexp(static_cast<float>(h & 0x3ff), -24)
                    : std::ldexp(1.0f + static_cast<float>(h & 0x3ff) / 1024.0f, exponent - 15);
  return (h & 0x8000) ? -magnitude : magnitude;
}

}  // namespace

double InputValue(int rank, std::uint64_t i, ReduceOp op) {
  if (op == ReduceOp::kProd) return static_cast<double>(1 + (i + rank) % 2);  // 1 or 2
  return static_cast<double>((i * 7 + rank * 3) % 5);                         // 0..4
}

double Expected(int world, std::uint64_t i, ReduceOp op, DType dtype) {
  double result = InputValue(0, i, op);
  for (int r = 1; r < world; ++r) {
    const double v = InputValue(r, i, op);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg:
        result += v;
        break;
      case ReduceOp::kMin:
        result = std::min(result, v);
        break;
      case ReduceOp::kMax:
        result = std::max(result, v);
        break;
      case ReduceOp::kProd:
        result *= v;
        break;
    }
  }
  if (op == ReduceOp::kAvg) {
    const bool integer = dtype == DType::kInt32 || dtype == DType::kInt64 || dtype == DType::kUInt8;
    result = integer ? std::trunc(result / world) : result / world;
    // float16/bfloat16 hold the quotient rounded; compare after the same rounding.
    if (dtype == DType::kFloat16 || dtype == DType::kBFloat16) {
      result = Decode(Encode({result}, dtype), 0, dtype);
    } else if (dtype == DType::kFloat32) {
      result = static_cast<float>(result);
    }
  }
  return result;
}

std::vector<std::uint8_t> Encode(const std::vector<double>& values, DType dtype) {
  const std::size_t size = DTypeSize(dtype);
  std::vector<std::uint8_t> bytes(values.size() * size);
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint8_t* at = bytes.data() + i * size;
    const double v = values[i];
    switch (dtype) {
      case DType::kFloat32: {
        const float f = static_cast<float>(v);
        std::memcpy(at, &f, 4);
        break;
      }
      case DType::kFloat64:
        std::memcpy(at, &v, 8);
        break;
      case DType::kFloat16: {
        const std::uint16_t h = HalfBits(static_cast<float>(v));
        std::memcpy(at, &h, 2);
        break;
      }
      case DType::kBFloat16: {
        const float f = static_cast<float>(v);
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        bits += 0x7fff + ((bits >> 16) & 1);  // round to nearest even
        const std::uint16_t b = static_cast<std::uint16_t>(bits >> 16);
        std::memcpy(at, &b, 2);
        break;
      }
      case DType::kInt32: {
        const std::int32_t x = static_cast<std::int32_t>(v);
        std::memcpy(at, &x, 4);
        break;
      }
      case DType::kInt64: {
        const std::int64_t x = static_cast<std::int64_t>(v);
        std::memcpy(at, &x, 8);
        break;
      }
      default: {
        const std::uint8_t x = static_cast<std::uint8_t>(v);
        *at = x;
        break;
      }
    }
  }
  return bytes;
}

double Decode(const std::vector<std::uint8_t>& bytes, std::uint64_t i, DType dtype) {
  const std::uint8_t* at = bytes.data() + i * DTypeSize(dtype);
  switch (dtype) {
    case DType::kFloat32: {
      float f;
      std::memcpy(&f, at, 4);
      return f;
    }
    case DType::kFloat64: {
      double d;
      std::memcpy(&d, at, 8);
      return d;
    }
    case DType::kFloat16: {
      std::uint16_t h;
      std::memcpy(&h, at, 2);
      return HalfValue(h);
    }
    case DType::kBFloat16: {
      std::uint16_t b;
      std::memcpy(&b, at, 2);
      const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case DType::kInt32: {
      std::int32_t x;
      std::memcpy(&x, at, 4);
      return x;
    }
    case DType::kInt64: {
      std::int64_t x;
      std::memcpy(&x, at, 8);
      return static_cast<double>(x);
    }
    default:
      return *at;
  }
}

}  // namespace train::testing
