// The regression data of the example: an HDF5 file from `trainctl data import csv --target`,
// split into train and test rows with a fixed seed, features and target standardized with the
// train split's mean and standard deviation.
#ifndef EXAMPLES_BOSTON_HOUSING_REGRESSION_DATA_H_
#define EXAMPLES_BOSTON_HOUSING_REGRESSION_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "train/status.h"

namespace boston {

struct Split {
  std::vector<float> features;  // [rows, num_features], standardized
  std::vector<float> target;    // [rows], standardized
  std::size_t rows() const { return target.size(); }
};

struct RegressionData {
  int num_features = 0;
  Split train, test;
  double target_mean = 0, target_std = 1;  // to turn predictions back into the target's units
};

// Reads `path` (fields "features" [N, C] and "target" [N]) and holds out `test_fraction` of the
// rows, chosen by the sampler's permutation of `seed`: the same split on every rank and run.
train::Result<RegressionData> LoadRegressionData(const std::string& path, double test_fraction,
                                                 std::uint64_t seed);

}  // namespace boston

#endif  // EXAMPLES_BOSTON_HOUSING_REGRESSION_DATA_H_
