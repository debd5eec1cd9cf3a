#include "train/dtype.h"

#include <string>

namespace train {
namespace {

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  std::size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::kFloat32, "float32", 4}, {DType::kFloat64, "float64", 8},
    {DType::kFloat16, "float16", 2}, {DType::kBFloat16, "bfloat16", 2},
    {DType::kInt8, "int8", 1},       {DType::kUInt8, "uint8", 1},
    {DType::kInt16, "int16", 2},     {DType::kInt32, "int32", 4},
    {DType::kInt64, "int64", 8},
};

}  // namespace

std::string_view DTypeName(DType dtype) {
  for (const auto& e : kDTypes) {
    if (e.dtype == dtype) return e.name;
  }
  return "unknown";
}

std::size_t DTypeSize(DType dtype) {
  for (const auto& e : kDTypes) {
    if (e.dtype == dtype) return e.size;
  }
  return 0;
}

Result<DType> ParseDType(std::string_view name) {
  std::string names;
  for (const auto& e : kDTypes) {
    if (e.name == name) return e.dtype;
    names += (names.empty() ? "" : ", ") + std::string(e.name);
  }
  return InvalidArgumentError("unknown dtype \"" + std::string(name) + "\"; use one of " + names);
}

}  // namespace train
