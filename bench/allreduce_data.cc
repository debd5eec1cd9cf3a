#include "allreduce_data.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>

namespace bench {
namespace {

using train::DType;
using train::ReduceOp;

constexpr int kPeriod = 4;  // inputs repeat every 4 elements

double InputValue(int rank, std::uint64_t i) {
  return 1.0 + static_cast<double>((3 * i + 3 * static_cast<std::uint64_t>(rank)) % kPeriod);
}

// Small integers and their exact reductions fit the 16-bit floats' mantissas, so these
// conversions only ever see values they represent (and round the averages to nearest).
std::uint16_t ToBFloat16(double value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(static_cast<float>(value));
  return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

double FromBFloat16(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

std::uint16_t ToFloat16(double value) {  // normal numbers only: what these inputs produce
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(static_cast<float>(value));
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude == 0) return static_cast<std::uint16_t>(sign);
  const std::uint32_t rounded = magnitude - (112u << 23) + 0xfffu + ((magnitude >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | (rounded >> 13));
}

double FromFloat16(std::uint16_t h) {
  const double sign = (h & 0x8000u) ? -1.0 : 1.0;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

template <typename T>
void Store(void* data, std::uint64_t i, double value) {
  static_cast<T*>(data)[i] = static_cast<T>(value);
}

void StoreAs(DType dtype, void* data, std::uint64_t i, double value) {
  switch (dtype) {
    case DType::kFloat32:
      return Store<float>(data, i, value);
    case DType::kFloat64:
      return Store<double>(data, i, value);
    case DType::kFloat16:
      return Store<std::uint16_t>(data, i, ToFloat16(value));
    case DType::kBFloat16:
      return Store<std::uint16_t>(data, i, ToBFloat16(value));
    case DType::kInt8:
      return Store<std::int8_t>(data, i, value);
    case DType::kUInt8:
      return Store<std::uint8_t>(data, i, value);
    case DType::kInt16:
      return Store<std::int16_t>(data, i, value);
    case DType::kInt32:
      return Store<std::int32_t>(data, i, value);
    case DType::kInt64:
      return Store<std::int64_t>(data, i, value);
  }
}

// Reads element i of `data` back as a double, in the dtype's own representation.
double LoadAs(DType dtype, const void* data, std::uint64_t i) {
  switch (dtype) {
    case DType::kFloat32:
      return static_cast<const float*>(data)[i];
    case DType::kFloat64:
      return static_cast<const double*>(data)[i];
    case DType::kFloat16:
      return FromFloat16(static_cast<const std::uint16_t*>(data)[i]);
    case DType::kBFloat16:
      return FromBFloat16(static_cast<const std::uint16_t*>(data)[i]);
    case DType::kInt8:
      return static_cast<const std::int8_t*>(data)[i];
    case DType::kUInt8:
      return static_cast<const std::uint8_t*>(data)[i];
    case DType::kInt16:
      return static_cast<const std::int16_t*>(data)[i];
    case DType::kInt32:
      return static_cast<const std::int32_t*>(data)[i];
    case DType::kInt64:
      return static_cast<const std::int64_t*>(data)[i];
  }
  return 0;
}

bool IsInteger(DType dtype) {
  return dtype != DType::kFloat32 && dtype != DType::kFloat64 && dtype != DType::kFloat16 &&
         dtype != DType::kBFloat16;
}

// The reduction of element i over the ranks, as the dtype computes it.
double Expected(DType dtype, ReduceOp op, int world_size, std::uint64_t i) {
  double acc = InputValue(0, i);
  for (int r = 1; r < world_size; ++r) {
    const double v = InputValue(r, i);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg:
        acc += v;
        break;
      case ReduceOp::kProd:
        acc *= v;
        break;
      case ReduceOp::kMin:
        acc = std::min(acc, v);
        break;
      case ReduceOp::kMax:
        acc = std::max(acc, v);
        break;
    }
  }
  if (op == ReduceOp::kAvg)
    acc = IsInteger(dtype) ? std::trunc(acc / world_size) : acc / world_size;
  if (dtype == DType::kUInt8) acc = static_cast<double>(static_cast<std::uint64_t>(acc) % 256);
  // Round to the dtype as a store would.
  std::array<std::byte, 8> cell{};
  StoreAs(dtype, cell.data(), 0, acc);
  return LoadAs(dtype, cell.data(), 0);
}

}  // namespace

void FillAllreduceInput(DType dtype, int rank, void* data, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) StoreAs(dtype, data, i, InputValue(rank, i));
}

std::uint64_t CountWrongElements(DType dtype, ReduceOp op, int world_size, const void* result,
                                 std::uint64_t count) {
  std::array<double, kPeriod> expected{};
  for (int k = 0; k < kPeriod; ++k) expected[k] = Expected(dtype, op, world_size, k);
  // kAvg may round once in a wider type and once more to the dtype: one last place apart.
  const double tolerance = op != ReduceOp::kAvg || IsInteger(dtype) ? 0.0
                           : dtype == DType::kFloat16               ? 0x1p-10
                           : dtype == DType::kBFloat16              ? 0x1p-7
                                                                    : 1e-6;
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const double want = expected[i % kPeriod];
    const double got = LoadAs(dtype, result, i);
    if (!(std::abs(got - want) <= tolerance * std::abs(want))) ++wrong;
  }
  return wrong;
}

}  // namespace bench
