// The state the crash test saves at each step: every byte a function of the step, so that the
// test can tell what any checkpoint must hold without remembering what was written.
#ifndef TRAIN_TESTS_INTEGRATION_CHECKPOINT_STEP_DATA_H_
#define TRAIN_TESTS_INTEGRATION_CHECKPOINT_STEP_DATA_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "train/checkpoint.h"

namespace checkpoint_test {

inline constexpr std::uint64_t kWeightElements = 768 * 1024;  // float32: 3 MiB
inline constexpr std::uint64_t kBiasElements = 128 * 1024;    // int64: 1 MiB
inline constexpr std::size_t kMomentBytes = 64 * 1024;

inline std::uint64_t Mix(std::uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Buffers a step's tensors live in; views into them go to Save and Load.
struct StepBuffers {
  std::vector<float> weights = std::vector<float>(kWeightElements);
  std::vector<std::int64_t> bias = std::vector<std::int64_t>(kBiasElements);

  // The tensors as the checkpoint names them, viewing these buffers.
  std::vector<train::CheckpointTensor> Tensors() {
    std::vector<train::CheckpointTensor> tensors(2);
    tensors[0].name = "weights";
    tensors[0].data = {weights.data(), train::DType::kFloat32, kWeightElements};
    tensors[0].shape = {kWeightElements / 1024, 1024};
    tensors[1].name = "layers/bias";
    tensors[1].data = {bias.data(), train::DType::kInt64, kBiasElements};
    return tensors;
  }

  void Fill(std::int64_t step) {
    const std::uint64_t seed = Mix(static_cast<std::uint64_t>(step));
    for (std::uint64_t i = 0; i < kWeightElements; ++i) {
      // 24 random bits as an exact float: no rounding can hide a wrong byte.
      weights[i] = static_cast<float>(Mix(seed + i) >> 40) * (1.0f / 16777216.0f);
    }
    for (std::uint64_t i = 0; i < kBiasElements; ++i) {
      bias[i] = static_cast<std::int64_t>(Mix(~seed + i));
    }
  }

  bool Equals(const StepBuffers& other) const {
    return std::memcmp(weights.data(), other.weights.data(), kWeightElements * 4) == 0 &&
           bias == other.bias;
  }
};

inline train::OptimizerState OptimizerOf(std::int64_t step) {
  train::OptimizerState state;
  state.step = step;
  state.names = {"group0/param0/exp_avg"};
  state.buffers.resize(1);
  state.buffers[0].resize(kMomentBytes);
  for (std::size_t i = 0; i < kMomentBytes; ++i) {
    state.buffers[0][i] = static_cast<std::byte>(Mix(static_cast<std::uint64_t>(step) * 131 + i));
  }
  return state;
}

inline train::SamplerState SamplerOf(std::int64_t step) {
  return {static_cast<std::uint64_t>(step / 100), static_cast<std::uint64_t>(step % 100) * 64};
}

// Everything but the tensors, for step `step`.
inline void FillExtras(std::int64_t step, train::CheckpointState& state) {
  state.optimizer = OptimizerOf(step);
  state.sampler = SamplerOf(step);
  state.rng = {{"main", "rng-state-" + std::to_string(Mix(step))}};
  state.metadata = {{"step", std::to_string(step)}};
}

// Empty when `loaded` (with the tensors read into `buffers`) is exactly what step `step`
// saved; otherwise what differs.
inline std::string Mismatch(std::int64_t step, const StepBuffers& buffers,
                            const train::LoadedCheckpoint& loaded) {
  StepBuffers expected;
  expected.Fill(step);
  train::CheckpointState extras;
  FillExtras(step, extras);
  if (loaded.step != step) return "step " + std::to_string(loaded.step);
  if (!buffers.Equals(expected)) return "tensor bytes differ";
  if (!loaded.optimizer || loaded.optimizer->step != extras.optimizer->step ||
      loaded.optimizer->names != extras.optimizer->names ||
      loaded.optimizer->buffers != extras.optimizer->buffers) {
    return "optimizer state differs";
  }
  if (!loaded.sampler || !(*loaded.sampler == *extras.sampler)) return "sampler state differs";
  if (loaded.rng != extras.rng) return "rng states differ";
  if (loaded.metadata != extras.metadata) return "metadata differs";
  return "";
}

}  // namespace checkpoint_test

#endif  // TRAIN_TESTS_INTEGRATION_CHECKPOINT_STEP_DATA_H_
