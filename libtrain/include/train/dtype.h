// Element types of tensors, datasets and collectives.
#ifndef TRAIN_DTYPE_H_
#define TRAIN_DTYPE_H_

#include <cstddef>
#include <string_view>

#include "train/status.h"

namespace train {

enum class DType {
  kFloat32,
  kFloat64,
  kFloat16,
  kBFloat16,
  kInt8,
  kUInt8,
  kInt16,
  kInt32,
  kInt64,
};

// "float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32", "int64".
std::string_view DTypeName(DType dtype);
// Parses the names above; the error lists them.
Result<DType> ParseDType(std::string_view name);
// Bytes per element.
std::size_t DTypeSize(DType dtype);

}  // namespace train

#endif  // TRAIN_DTYPE_H_
