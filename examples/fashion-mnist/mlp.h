// A 784-256-128-10 multilayer perceptron (ReLU, softmax cross-entropy) with a hand-written
// forward and backward pass; the matrix products go to OpenBLAS (one thread, so that the same
// inputs give the same bits every time).
#ifndef EXAMPLES_FASHION_MNIST_MLP_H_
#define EXAMPLES_FASHION_MNIST_MLP_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fashion_mnist {

inline constexpr int kInputs = 784;
inline constexpr int kClasses = 10;

// One dense layer's place in the flat parameter (and gradient) buffer. Weights are
// [outputs][inputs] row-major, as PyTorch lays out nn.Linear.
struct LayerShape {
  const char* name;  // "fc1"
  int inputs;
  int outputs;
  std::size_t weight_offset;  // in floats
  std::size_t bias_offset;

  std::size_t weight_size() const { return static_cast<std::size_t>(inputs) * outputs; }
};

inline constexpr int kLayers = 3;
// fc1 784->256, fc2 256->128, fc3 128->10; every parameter back to back, no padding, so the
// parameter bytes hashed by params_sha256 are exactly the model's.
extern const std::array<LayerShape, kLayers> kLayerShapes;
extern const std::size_t kNumParams;

// What one pass over a batch saw.
struct BatchStats {
  double loss_sum = 0;  // cross-entropy summed over the batch
  int correct = 0;      // samples whose argmax matched the label
};

// The model's parameters live outside (the caller owns the flat buffer, registered with the
// optimizer and the checkpoints); the model holds the per-batch workspace.
class Mlp {
 public:
  // He-uniform weights (Glorot for the last layer), zero biases, from `seed`: the same seed
  // gives the same bits on every platform.
  static std::vector<float> InitialParams(std::uint64_t seed);

  // Forward and backward over `batch` samples (`inputs` batch x kInputs, `labels` in
  // [0, kClasses)): writes the gradient of the batch's mean loss into `grads` (kNumParams
  // floats, overwritten). `layer_done(l)` is called as soon as layer l's gradients are final,
  // last layer first, so that their all-reduce can start while backward goes on.
  BatchStats ForwardBackward(const float* params, const float* inputs, const std::int64_t* labels,
                             int batch, float* grads,
                             const std::function<void(int layer)>& layer_done = nullptr);

  // Forward only: the number of samples whose predicted class matches `labels`.
  int CountCorrect(const float* params, const float* inputs, const std::int64_t* labels, int batch);

 private:
  // Fills activations_[l] for l = 1..kLayers (post-ReLU for hidden layers, logits last).
  void Forward(const float* params, const float* inputs, int batch);

  // activations_[0] is unused (the inputs are the caller's); [l] is layer l's output.
  std::array<std::vector<float>, kLayers + 1> activations_;
  std::array<std::vector<float>, kLayers + 1> deltas_;  // dloss/d(layer l's output)
};

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_MLP_H_
