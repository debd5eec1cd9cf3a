#include "mlp.h"

#include <algorithm>
#include <cmath>

#include "rng.h"

namespace fashion_mnist {
namespace {

constexpr int kHidden = Mlp::kHidden;

// y += a * x over one hidden-layer row. The fixed length and __restrict let GCC vectorize this
// at -O2 (its cheap cost model refuses runtime alias checks and remainder loops).
inline void AxpyRow(float a, const float* __restrict x, float* __restrict y) {
  for (int j = 0; j < kHidden; ++j) y[j] += a * x[j];
}

inline float DotRow(const float* __restrict x, const float* __restrict y) {
  float sum = 0;
  for (int j = 0; j < kHidden; ++j) sum += x[j] * y[j];
  return sum;
}

// dh = 0 where the ReLU was off (h == 0): no gradient flows through an inactive unit.
inline void ReluBackwardRow(const float* __restrict h, float* __restrict dh) {
  for (int j = 0; j < kHidden; ++j) dh[j] = h[j] > 0.0f ? dh[j] : 0.0f;
}

inline void ReluRow(float* __restrict h) {
  for (int j = 0; j < kHidden; ++j) h[j] = h[j] > 0.0f ? h[j] : 0.0f;
}

// SGD with momentum as PyTorch defines it: v = mu * v + g; p -= lr * v.
template <int kSize>
void MomentumUpdate(float lr, float mu, const float* __restrict g, float* __restrict v,
                    float* __restrict p) {
  for (int n = 0; n < kSize; ++n) {
    v[n] = mu * v[n] + g[n];
    p[n] -= lr * v[n];
  }
}

void FillUniform(float* out, int n, float limit, SplitMix64& rng) {
  for (int i = 0; i < n; ++i) out[i] = (2 * rng.NextUnit() - 1) * limit;
}

}  // namespace

Mlp::Mlp(uint64_t seed)
    : params_(kNumParams, 0.0f), grads_(kNumParams, 0.0f), velocity_(kNumParams, 0.0f) {
  SplitMix64 rng(seed);
  FillUniform(&params_[kW1], kInputs * kHidden, std::sqrt(6.0f / kInputs), rng);
  FillUniform(&params_[kW2], kOutputs * kHidden, std::sqrt(6.0f / (kHidden + kOutputs)), rng);
}

void Mlp::Resize(int batch) {
  const auto n = static_cast<size_t>(batch);
  if (hidden_.size() < n * kHidden) {
    hidden_.resize(n * kHidden);
    dhidden_.resize(n * kHidden);
    logits_.resize(n * kOutputs);
  }
}

void Mlp::Forward(const float* inputs, int batch) {
  Resize(batch);
  const float* w1 = &params_[kW1];
  const float* b1 = &params_[kB1];
  const float* w2 = &params_[kW2];
  const float* b2 = &params_[kB2];
  float* hidden = hidden_.data();

  for (int b = 0; b < batch; ++b) std::copy(b1, b1 + kHidden, hidden + b * kHidden);
  // Input-major: one row of w1 stays in L1 while every sample of the batch uses it, and the
  // background pixels (about half of them) cost nothing.
  for (int i = 0; i < kInputs; ++i) {
    const float* row = w1 + i * kHidden;
    for (int b = 0; b < batch; ++b) {
      const float x = inputs[b * kInputs + i];
      if (x != 0.0f) AxpyRow(x, row, hidden + b * kHidden);
    }
  }
  for (int b = 0; b < batch; ++b) ReluRow(hidden + b * kHidden);

  for (int b = 0; b < batch; ++b) {
    for (int k = 0; k < kOutputs; ++k) {
      logits_[b * kOutputs + k] = b2[k] + DotRow(hidden + b * kHidden, w2 + k * kHidden);
    }
  }
}

StepStats Mlp::TrainStep(const float* inputs, const uint8_t* labels, int batch,
                         const SgdOptions& options) {
  Forward(inputs, batch);
  StepStats stats;

  // Softmax cross-entropy; logits_ becomes dloss/dlogits of the batch mean.
  const float inv_batch = 1.0f / static_cast<float>(batch);
  for (int b = 0; b < batch; ++b) {
    float* z = &logits_[b * kOutputs];
    const int argmax = static_cast<int>(std::max_element(z, z + kOutputs) - z);
    const float zmax = z[argmax];
    const int label = labels[b];
    const float label_logit = z[label] - zmax;  // before exp: its exp may underflow to 0
    float sum = 0;
    for (int k = 0; k < kOutputs; ++k) {
      z[k] = std::exp(z[k] - zmax);
      sum += z[k];
    }
    stats.loss_sum += std::log(sum) - label_logit;
    stats.correct += argmax == label ? 1 : 0;
    for (int k = 0; k < kOutputs; ++k) {
      z[k] = (z[k] / sum - (k == label ? 1.0f : 0.0f)) * inv_batch;
    }
  }

  std::fill(grads_.begin(), grads_.end(), 0.0f);
  const float* w2 = &params_[kW2];
  float* gw1 = &grads_[kW1];
  float* gb1 = &grads_[kB1];
  float* gw2 = &grads_[kW2];
  float* gb2 = &grads_[kB2];
  const float* hidden = hidden_.data();
  float* dhidden = dhidden_.data();

  for (int b = 0; b < batch; ++b) {
    const float* dz = &logits_[b * kOutputs];
    const float* h = hidden + b * kHidden;
    float* dh = dhidden + b * kHidden;
    std::fill(dh, dh + kHidden, 0.0f);
    for (int k = 0; k < kOutputs; ++k) {
      AxpyRow(dz[k], h, gw2 + k * kHidden);
      AxpyRow(dz[k], w2 + k * kHidden, dh);
      gb2[k] += dz[k];
    }
    ReluBackwardRow(h, dh);
    AxpyRow(1.0f, dh, gb1);
  }
  for (int i = 0; i < kInputs; ++i) {
    float* grow = gw1 + i * kHidden;
    for (int b = 0; b < batch; ++b) {
      const float x = inputs[b * kInputs + i];
      if (x != 0.0f) AxpyRow(x, dhidden + b * kHidden, grow);
    }
  }

  MomentumUpdate<kNumParams>(options.learning_rate, options.momentum, grads_.data(),
                             velocity_.data(), params_.data());
  return stats;
}

void Mlp::Predict(const float* inputs, int batch, uint8_t* classes) {
  Forward(inputs, batch);
  for (int b = 0; b < batch; ++b) {
    const float* z = &logits_[b * kOutputs];
    classes[b] = static_cast<uint8_t>(std::max_element(z, z + kOutputs) - z);
  }
}

}  // namespace fashion_mnist
