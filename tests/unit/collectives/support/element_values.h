// Reading and writing one element of any collective dtype as a double, for the collectives
// tests' inputs and expected results.
#ifndef TRAIN_TESTS_COLLECTIVES_SUPPORT_ELEMENT_VALUES_H_
#define TRAIN_TESTS_COLLECTIVES_SUPPORT_ELEMENT_VALUES_H_

#include <cstdint>
#include <vector>

#include "train/dtype.h"

namespace train::testing {

// Element `index` of `data`, widened to double. float16 and bfloat16 are widened here, not by
// libtrain's conversions, so that results read back do not depend on them.
double GetElement(DType dtype, const void* data, std::uint64_t index);
// `value` must be exactly representable in `dtype`: checked by reading it back.
void SetElement(DType dtype, void* data, std::uint64_t index, double value);
// `value` rounded to `dtype`: to nearest even for the float dtypes, toward zero for the
// integers (uint8 wraps modulo 256).
void SetElementRounded(DType dtype, void* data, std::uint64_t index, double value);
// An integer, without a detour through double for the integer dtypes: exact in int64, and in
// int32 when it fits; uint8 keeps it modulo 256. The float dtypes round it as
// SetElementRounded does.
void SetIntegerElement(DType dtype, void* data, std::uint64_t index, std::int64_t value);

// A zeroed buffer of `count` elements.
inline std::vector<unsigned char> Buffer(DType dtype, std::uint64_t count) {
  return std::vector<unsigned char>(count * DTypeSize(dtype));
}

}  // namespace train::testing

#endif  // TRAIN_TESTS_COLLECTIVES_SUPPORT_ELEMENT_VALUES_H_
