// A one-hidden-layer ReLU network for regression (or a linear model with hidden = 0), with its
// forward and backward pass written out. Parameters and gradients each live in one buffer, so
// that they can be viewed as tensors by the optimizer, the gradient buckets and checkpoints.
#ifndef EXAMPLES_BOSTON_HOUSING_MODEL_H_
#define EXAMPLES_BOSTON_HOUSING_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "train/tensor.h"

namespace boston {

struct ParamSlice {
  std::string name;  // "w1", "b1", "w2", "b2"
  std::size_t offset = 0, numel = 0;
  std::vector<std::uint64_t> shape;
};

class Model {
 public:
  Model(int inputs, int hidden, std::uint64_t seed);

  // Adds the gradient of mean squared error over `rows` samples to grads() (zeroed by the
  // caller) and returns the mean squared error.
  double Backward(const float* x, const float* y, std::size_t rows);
  float Predict(const float* x) const;

  const std::vector<ParamSlice>& slices() const { return slices_; }  // in forward order
  train::TensorView ParamView(const ParamSlice& s) { return View(params_, s); }
  train::TensorView GradView(const ParamSlice& s) { return View(grads_, s); }
  std::vector<float>& params() { return params_; }
  std::vector<float>& grads() { return grads_; }

 private:
  static train::TensorView View(std::vector<float>& buffer, const ParamSlice& s) {
    return {buffer.data() + s.offset, train::DType::kFloat32, s.numel};
  }
  const float* P(int i) const { return params_.data() + slices_[i].offset; }
  float* G(int i) { return grads_.data() + slices_[i].offset; }

  int inputs_, hidden_;
  std::vector<ParamSlice> slices_;
  std::vector<float> params_, grads_;
};

}  // namespace boston

#endif  // EXAMPLES_BOSTON_HOUSING_MODEL_H_
