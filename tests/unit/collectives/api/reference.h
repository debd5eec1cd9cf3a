// Test data whose reductions are exact in every dtype, and the expected results.
#ifndef TRAIN_TESTS_COLLECTIVES_REFERENCE_H_
#define TRAIN_TESTS_COLLECTIVES_REFERENCE_H_

#include <cstdint>
#include <vector>

#include "train/communicator.h"

namespace train::testing {

// Element i of rank r's input, as a double (small integers, so sums and products stay exact).
double InputValue(int rank, std::uint64_t i, ReduceOp op);
// The reduction of InputValue over `world` ranks (kAvg truncates for integer dtypes).
double Expected(int world, std::uint64_t i, ReduceOp op, DType dtype);

// Typed buffers: doubles encoded to `dtype` (rounded to nearest even) and decoded back.
std::vector<std::uint8_t> Encode(const std::vector<double>& values, DType dtype);
double Decode(const std::vector<std::uint8_t>& bytes, std::uint64_t i, DType dtype);

inline TensorView View(std::vector<std::uint8_t>& bytes, DType dtype, std::uint64_t numel) {
  return TensorView{bytes.data(), dtype, numel};
}

}  // namespace train::testing

#endif  // TRAIN_TESTS_COLLECTIVES_REFERENCE_H_
