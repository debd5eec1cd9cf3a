#include "mlp.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "rng.h"

namespace fashion_mnist {
namespace {

constexpr std::size_t kFc1Weights = 0;
constexpr std::size_t kFc1Bias = kFc1Weights + 784 * 256;
constexpr std::size_t kFc2Weights = kFc1Bias + 256;
constexpr std::size_t kFc2Bias = kFc2Weights + 256 * 128;
constexpr std::size_t kFc3Weights = kFc2Bias + 128;
constexpr std::size_t kFc3Bias = kFc3Weights + 128 * 10;
constexpr std::size_t kEnd = kFc3Bias + 10;

void FillUniform(float* out, std::size_t n, float limit, SplitMix64& rng) {
  for (std::size_t i = 0; i < n; ++i) out[i] = (2 * rng.NextUnit() - 1) * limit;
}

// out[b][o] = bias[o] + sum_i in[b][i] * weights[o][i]
void Dense(const LayerShape& shape, const float* params, const float* in, int batch, float* out) {
  const float* bias = params + shape.bias_offset;
  for (int b = 0; b < batch; ++b) std::copy(bias, bias + shape.outputs, out + b * shape.outputs);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, shape.outputs, shape.inputs, 1.0f, in,
              shape.inputs, params + shape.weight_offset, shape.inputs, 1.0f, out, shape.outputs);
}

void Relu(float* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) data[i] = std::max(data[i], 0.0f);
}

}  // namespace

const std::array<LayerShape, kLayers> kLayerShapes = {{
    {"fc1", 784, 256, kFc1Weights, kFc1Bias},
    {"fc2", 256, 128, kFc2Weights, kFc2Bias},
    {"fc3", 128, kClasses, kFc3Weights, kFc3Bias},
}};
const std::size_t kNumParams = kEnd;

std::vector<float> Mlp::InitialParams(std::uint64_t seed) {
  std::vector<float> params(kNumParams, 0.0f);
  SplitMix64 rng(seed);
  for (int l = 0; l < kLayers; ++l) {
    const LayerShape& shape = kLayerShapes[l];
    // He for the ReLU layers, Glorot for the logits.
    const float limit = l + 1 < kLayers
                            ? std::sqrt(6.0f / static_cast<float>(shape.inputs))
                            : std::sqrt(6.0f / static_cast<float>(shape.inputs + shape.outputs));
    FillUniform(&params[shape.weight_offset], shape.weight_size(), limit, rng);
  }
  return params;
}

void Mlp::Forward(const float* params, const float* inputs, int batch) {
  const float* in = inputs;
  for (int l = 0; l < kLayers; ++l) {
    const LayerShape& shape = kLayerShapes[l];
    std::vector<float>& out = activations_[l + 1];
    out.resize(static_cast<std::size_t>(batch) * shape.outputs);
    Dense(shape, params, in, batch, out.data());
    if (l + 1 < kLayers) Relu(out.data(), out.size());
    in = out.data();
  }
}

BatchStats Mlp::ForwardBackward(const float* params, const float* inputs,
                                const std::int64_t* labels, int batch, float* grads,
                                const std::function<void(int layer)>& layer_done) {
  Forward(params, inputs, batch);
  BatchStats stats;

  // Softmax cross-entropy; the delta of the logits is that of the batch's mean loss.
  const std::vector<float>& logits = activations_[kLayers];
  std::vector<float>& dlogits = deltas_[kLayers];
  dlogits.resize(logits.size());
  const float inv_batch = 1.0f / static_cast<float>(batch);
  for (int b = 0; b < batch; ++b) {
    const float* z = &logits[static_cast<std::size_t>(b) * kClasses];
    float* dz = &dlogits[static_cast<std::size_t>(b) * kClasses];
    const int argmax = static_cast<int>(std::max_element(z, z + kClasses) - z);
    const auto label = static_cast<int>(labels[b]);
    float sum = 0;
    for (int k = 0; k < kClasses; ++k) {
      dz[k] = std::exp(z[k] - z[argmax]);
      sum += dz[k];
    }
    stats.loss_sum += std::log(sum) - (z[label] - z[argmax]);
    stats.correct += argmax == label ? 1 : 0;
    for (int k = 0; k < kClasses; ++k)
      dz[k] = (dz[k] / sum - (k == label ? 1.0f : 0.0f)) * inv_batch;
  }

  for (int l = kLayers - 1; l >= 0; --l) {
    const LayerShape& shape = kLayerShapes[l];
    const float* in = l == 0 ? inputs : activations_[l].data();
    const float* delta = deltas_[l + 1].data();
    // dW = delta^T in; db = the column sums of delta, added in sample order.
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, shape.outputs, shape.inputs, batch, 1.0f,
                delta, shape.outputs, in, shape.inputs, 0.0f, grads + shape.weight_offset,
                shape.inputs);
    float* bias_grad = grads + shape.bias_offset;
    std::fill(bias_grad, bias_grad + shape.outputs, 0.0f);
    for (int b = 0; b < batch; ++b) {
      const float* row = delta + static_cast<std::size_t>(b) * shape.outputs;
      for (int o = 0; o < shape.outputs; ++o) bias_grad[o] += row[o];
    }
    if (layer_done) layer_done(l);
    if (l == 0) break;
    // The delta of this layer's input, through the ReLU that produced it.
    std::vector<float>& din = deltas_[l];
    din.resize(static_cast<std::size_t>(batch) * shape.inputs);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, shape.inputs, shape.outputs, 1.0f,
                delta, shape.outputs, params + shape.weight_offset, shape.inputs, 0.0f, din.data(),
                shape.inputs);
    const std::vector<float>& activation = activations_[l];
    for (std::size_t i = 0; i < din.size(); ++i) {
      if (activation[i] <= 0.0f) din[i] = 0.0f;
    }
  }
  return stats;
}

int Mlp::CountCorrect(const float* params, const float* inputs, const std::int64_t* labels,
                      int batch) {
  Forward(params, inputs, batch);
  const std::vector<float>& logits = activations_[kLayers];
  int correct = 0;
  for (int b = 0; b < batch; ++b) {
    const float* z = &logits[static_cast<std::size_t>(b) * kClasses];
    correct += std::max_element(z, z + kClasses) - z == labels[b] ? 1 : 0;
  }
  return correct;
}

}  // namespace fashion_mnist
