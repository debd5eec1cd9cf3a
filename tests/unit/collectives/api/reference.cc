#include "reference.h"

#include <algorithm>
#include <cmath>

#include "element_values.h"

namespace train::testing {

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
  std::vector<std::uint8_t> bytes(values.size() * DTypeSize(dtype));
  for (std::size_t i = 0; i < values.size(); ++i) {
    SetElementRounded(dtype, bytes.data(), i, values[i]);
  }
  return bytes;
}

double Decode(const std::vector<std::uint8_t>& bytes, std::uint64_t i, DType dtype) {
  return GetElement(dtype, bytes.data(), i);
}

}  // namespace train::testing
