#include "model.h"

#include <cmath>
#include <random>

namespace boston {

Model::Model(int inputs, int hidden, std::uint64_t seed) : inputs_(inputs), hidden_(hidden) {
  auto add = [this](std::string name, std::vector<std::uint64_t> shape) {
    std::size_t numel = 1;
    for (std::uint64_t d : shape) numel *= d;
    const std::size_t offset = slices_.empty() ? 0 : slices_.back().offset + slices_.back().numel;
    slices_.push_back({std::move(name), offset, numel, std::move(shape)});
  };
  const auto h = static_cast<std::uint64_t>(hidden), in = static_cast<std::uint64_t>(inputs);
  if (hidden > 0) {
    add("w1", {h, in});
    add("b1", {h});
  }
  add("w2", {hidden > 0 ? h : in});
  add("b2", {1});
  params_.assign(slices_.back().offset + 1, 0.0f);
  grads_.assign(params_.size(), 0.0f);
  // He initialization of the weights (biases start at 0); the same on every rank.
  std::mt19937_64 rng(seed);
  for (const ParamSlice& s : slices_) {
    if (s.name[0] != 'w') continue;
    const double fan_in = static_cast<double>(s.shape.back());
    std::normal_distribution<float> normal(0.0f, static_cast<float>(std::sqrt(2.0 / fan_in)));
    for (std::size_t i = 0; i < s.numel; ++i) params_[s.offset + i] = normal(rng);
  }
}

float Model::Predict(const float* x) const {
  if (hidden_ == 0) {
    float y = P(1)[0];
    for (int i = 0; i < inputs_; ++i) y += P(0)[i] * x[i];
    return y;
  }
  float y = P(3)[0];
  for (int j = 0; j < hidden_; ++j) {
    float a = P(1)[j];
    for (int i = 0; i < inputs_; ++i) a += P(0)[j * inputs_ + i] * x[i];
    if (a > 0) y += P(2)[j] * a;
  }
  return y;
}

double Model::Backward(const float* x, const float* y, std::size_t rows) {
  double loss = 0;
  std::vector<float> a(static_cast<std::size_t>(hidden_));
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * static_cast<std::size_t>(inputs_);
    const float error = Predict(xr) - y[r];
    loss += static_cast<double>(error) * error;
    const float dy = 2.0f * error / static_cast<float>(rows);  // d(mean squared error)/d(output)
    if (hidden_ == 0) {
      for (int i = 0; i < inputs_; ++i) G(0)[i] += dy * xr[i];
      G(1)[0] += dy;
      continue;
    }
    for (int j = 0; j < hidden_; ++j) {
      float pre = P(1)[j];
      for (int i = 0; i < inputs_; ++i) pre += P(0)[j * inputs_ + i] * xr[i];
      a[static_cast<std::size_t>(j)] = pre > 0 ? pre : 0;
    }
    G(3)[0] += dy;
    for (int j = 0; j < hidden_; ++j) {
      if (a[static_cast<std::size_t>(j)] <= 0) continue;  // ReLU passes no gradient
      G(2)[j] += dy * a[static_cast<std::size_t>(j)];
      const float da = dy * P(2)[j];
      G(1)[j] += da;
      for (int i = 0; i < inputs_; ++i) G(0)[j * inputs_ + i] += da * xr[i];
    }
  }
  return loss / static_cast<double>(rows);
}

}  // namespace boston
