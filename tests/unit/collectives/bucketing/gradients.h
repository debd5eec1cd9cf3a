// Gradients for the bucketing tests: float32 vectors of known values, registered in order.
#ifndef TRAIN_TESTS_UNIT_COLLECTIVES_BUCKETING_GRADIENTS_H_
#define TRAIN_TESTS_UNIT_COLLECTIVES_BUCKETING_GRADIENTS_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "train/grad_buckets.h"

namespace train::testing {

// Gradient i holds sizes[i] floats; element j is a small integer (sums stay exact).
struct Gradients {
  std::vector<std::vector<float>> values;

  explicit Gradients(const std::vector<std::size_t>& sizes, int seed = 0) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::vector<float> v(sizes[i]);
      for (std::size_t j = 0; j < v.size(); ++j) v[j] = Value(seed, i, j);
      values.push_back(std::move(v));
    }
  }
  // New values in the same storage, so registered views stay valid.
  void Fill(int seed) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      for (std::size_t j = 0; j < values[i].size(); ++j) values[i][j] = Value(seed, i, j);
    }
  }
  static float Value(int seed, std::size_t grad, std::size_t element) {
    return static_cast<float>(static_cast<int>((seed * 7 + grad * 13 + element * 5) % 17) - 8);
  }
  static std::string Name(std::size_t i) { return "layer" + std::to_string(i) + ".weight"; }
  TensorView View(std::size_t i) {
    return {values[i].data(), DType::kFloat32, values[i].size(), Device::kCpu, 0};
  }
  void RegisterAll(GradientBuckets& buckets) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto index = buckets.Register(Name(i), View(i));
      ASSERT_TRUE(index.ok()) << index.status();
      ASSERT_EQ(*index, i);
    }
  }
};

inline std::unique_ptr<GradientBuckets> MakeBuckets(Communicator* comm,
                                                    const GradientBucketsOptions& options) {
  auto buckets = GradientBuckets::Create(comm, options);
  EXPECT_TRUE(buckets.ok()) << buckets.status();
  return buckets.ok() ? std::move(*buckets) : nullptr;
}

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_COLLECTIVES_BUCKETING_GRADIENTS_H_
