// Reading and writing one element of any collective dtype as a double, for tests whose
// values (small integers and halves) every dtype holds exactly.
#ifndef TRAIN_TESTS_COLLECTIVES_SUPPORT_ELEMENT_VALUES_H_
#define TRAIN_TESTS_COLLECTIVES_SUPPORT_ELEMENT_VALUES_H_

#include <cstdint>
#include <vector>

#include "train/dtype.h"

namespace train::testing {

double GetElement(DType dtype, const void* data, std::uint64_t index);
// `value` must be exactly representable in `dtype`.
void SetElement(DType dtype, void* data, std::uint64_t index, double value);

// A zeroed buffer of `count` elements.
inline std::vector<unsigned char> Buffer(DType dtype, std::uint64_t count) {
  return std::vector<unsigned char>(count * DTypeSize(dtype));
}

}  // namespace train::testing

#endif  // TRAIN_TESTS_COLLECTIVES_SUPPORT_ELEMENT_VALUES_H_
