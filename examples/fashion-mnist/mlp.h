// A 784-128-10 multilayer perceptron (ReLU, softmax cross-entropy) trained by minibatch SGD
// with momentum. The sizes are compile-time constants so that the inner loops have known trip
// counts, which lets GCC vectorize them at -O2.
#ifndef EXAMPLES_FASHION_MNIST_MLP_H_
#define EXAMPLES_FASHION_MNIST_MLP_H_

#include <cstdint>
#include <vector>

namespace fashion_mnist {

struct SgdOptions {
  float learning_rate = 0.05f;
  float momentum = 0.9f;
};

// What one training step saw, before the update.
struct StepStats {
  double loss_sum = 0;  // summed over the batch
  int correct = 0;      // samples whose argmax matched the label
};

class Mlp {
 public:
  static constexpr int kInputs = 784;
  static constexpr int kHidden = 128;
  static constexpr int kOutputs = 10;

  // He-uniform first layer, Glorot-uniform second, zero biases; the same seed gives the same
  // weights on every platform.
  explicit Mlp(uint64_t seed);

  // Forward, backward and one SGD-with-momentum update on `batch` samples. `inputs` is
  // batch x kInputs, `labels` batch entries in [0, kOutputs).
  StepStats TrainStep(const float* inputs, const uint8_t* labels, int batch,
                      const SgdOptions& options);

  // Writes the predicted class of each of `batch` samples to `classes`.
  void Predict(const float* inputs, int batch, uint8_t* classes);

 private:
  // Fills hidden_ (post-ReLU) and logits_ for `batch` samples.
  void Forward(const float* inputs, int batch);
  void Resize(int batch);

  // Parameters, their gradients and momentum buffers share one layout:
  // w1 [kInputs][kHidden] (input-major, so an input scales a contiguous row), b1 [kHidden],
  // w2 [kOutputs][kHidden], b2 [kOutputs].
  static constexpr int kW1 = 0;
  static constexpr int kB1 = kW1 + kInputs * kHidden;
  static constexpr int kW2 = kB1 + kHidden;
  static constexpr int kB2 = kW2 + kOutputs * kHidden;
  // Padded to a multiple of 16 so the update loop needs no remainder (and vectorizes at -O2).
  static constexpr int kNumParams = (kB2 + kOutputs + 15) / 16 * 16;

  std::vector<float> params_;
  std::vector<float> grads_;
  std::vector<float> velocity_;

  // Per-batch workspace.
  std::vector<float> hidden_;   // batch x kHidden
  std::vector<float> logits_;   // batch x kOutputs; the backward pass reuses it for dlogits
  std::vector<float> dhidden_;  // batch x kHidden
};

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_MLP_H_
