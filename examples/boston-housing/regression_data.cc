#include "regression_data.h"

#include <cmath>
#include <numeric>

#include "train/dataset.h"
#include "train/sampler.h"

namespace boston {
namespace {

// Standardizes column `c` of every split with the train split's statistics.
void Standardize(std::vector<float>& train, std::vector<Split*> others, int columns, int c,
                 std::vector<float> Split::*field, double* mean_out, double* std_out) {
  const std::size_t rows = train.size() / static_cast<std::size_t>(columns);
  double sum = 0, sum_sq = 0;
  for (std::size_t r = 0; r < rows; ++r) sum += train[r * columns + c];
  const double mean = sum / static_cast<double>(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const double d = train[r * columns + c] - mean;
    sum_sq += d * d;
  }
  double stddev = std::sqrt(sum_sq / static_cast<double>(rows));
  if (stddev == 0) stddev = 1;  // a constant column carries nothing; keep it at 0
  auto apply = [&](std::vector<float>& values) {
    const std::size_t n = values.size() / static_cast<std::size_t>(columns);
    for (std::size_t r = 0; r < n; ++r) {
      float& v = values[r * columns + c];
      v = static_cast<float>((v - mean) / stddev);
    }
  };
  apply(train);
  for (Split* split : others) apply(split->*field);
  if (mean_out != nullptr) *mean_out = mean;
  if (std_out != nullptr) *std_out = stddev;
}

}  // namespace

train::Result<RegressionData> LoadRegressionData(const std::string& path, double test_fraction,
                                                 std::uint64_t seed) {
  train::DatasetOptions options;
  options.fields = {"features", "target"};
  options.read_as = {{"features", train::DType::kFloat32}, {"target", train::DType::kFloat32}};
  TRAIN_ASSIGN_OR_RETURN(auto dataset, train::Dataset::Open(path, options));
  const std::uint64_t n = dataset->size();
  std::vector<std::uint64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  TRAIN_ASSIGN_OR_RETURN(train::Batch batch, dataset->Read(all));
  const train::HostTensor& features = batch.at("features");
  if (features.shape.size() != 2 || batch.at("target").shape.size() != 1) {
    return train::InvalidArgumentError(path +
                                       ": expected features [N, C] and target [N], as "
                                       "`trainctl data import csv --target COL` writes them");
  }
  const int columns = static_cast<int>(features.shape[1]);
  const auto num_test = static_cast<std::uint64_t>(static_cast<double>(n) * test_fraction);
  if (num_test == 0 || num_test >= n) {
    return train::InvalidArgumentError(path + " has " + std::to_string(n) +
                                       " rows: too few to hold out a test split");
  }

  RegressionData data;
  data.num_features = columns;
  const float* x = features.data<float>();
  const float* y = batch.at("target").data<float>();
  const train::Permutation order(n, seed, /*epoch=*/0, /*shuffle=*/true);
  for (std::uint64_t position = 0; position < n; ++position) {
    const std::uint64_t row = order(position);
    Split& split = position < num_test ? data.test : data.train;
    split.features.insert(split.features.end(), x + row * columns, x + (row + 1) * columns);
    split.target.push_back(y[row]);
  }
  for (int c = 0; c < columns; ++c) {
    Standardize(data.train.features, {&data.test}, columns, c, &Split::features, nullptr, nullptr);
  }
  Standardize(data.train.target, {&data.test}, 1, 0, &Split::target, &data.target_mean,
              &data.target_std);
  return data;
}

}  // namespace boston
