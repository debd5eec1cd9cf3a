// Rounding to float16 and bfloat16, which HDF5 cannot convert to as a native type.
#ifndef TRAIN_DATA_FLOAT_CONVERT_H_
#define TRAIN_DATA_FLOAT_CONVERT_H_

#include <cstddef>
#include <cstdint>

#include "train/dtype.h"

namespace train::internal {

// The IEEE binary16 / bfloat16 bits nearest to `value`, ties to even; overflow gives infinity,
// NaN stays NaN (quiet) and the sign is kept, also on zero.
std::uint16_t ToFloat16(double value);
std::uint16_t ToBFloat16(double value);

// Rounds `count` doubles to `dtype` (kFloat16 or kBFloat16), writing 2 bytes each.
void RoundToHalf(const double* in, std::size_t count, DType dtype, std::byte* out);

}  // namespace train::internal

#endif  // TRAIN_DATA_FLOAT_CONVERT_H_
