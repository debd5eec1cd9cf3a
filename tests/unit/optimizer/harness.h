// Tensors in any dtype, deterministic gradients, and a fused optimizer over them.
#ifndef TRAIN_TESTS_UNIT_OPTIMIZER_HARNESS_H_
#define TRAIN_TESTS_UNIT_OPTIMIZER_HARNESS_H_

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "reference.h"
#include "train/optimizer.h"

namespace train::testing {

// One tensor's memory in float32 or a 16-bit type.
struct Storage {
  DType dtype = DType::kFloat32;
  std::vector<float> f;
  std::vector<std::uint16_t> h;

  Storage(DType d, std::size_t n) : dtype(d) {
    if (d == DType::kFloat32) {
      f.resize(n);
    } else {
      h.resize(n);
    }
  }
  std::size_t size() const { return dtype == DType::kFloat32 ? f.size() : h.size(); }
  void* data() { return dtype == DType::kFloat32 ? static_cast<void*>(f.data()) : h.data(); }
  double Get(std::size_t i) const {
    return dtype == DType::kFloat32 ? f[i] : FromBits(dtype, h[i]);
  }
  void Set(std::size_t i, double x) {
    if (dtype == DType::kFloat32) {
      f[i] = static_cast<float>(x);
    } else {
      h[i] = ToBits(dtype, x);
    }
  }
  TensorView View() { return {data(), dtype, size(), Device::kCpu, 0}; }
};

inline const std::vector<std::size_t>& OddSizes() {
  static const std::vector<std::size_t> sizes = {0, 1, 7, 1000, 65537, 131075};
  return sizes;
}

struct RunSetup {
  OptimizerOptions options;
  DType param_dtype = DType::kFloat32;
  DType grad_dtype = DType::kFloat32;
  float grad_scale = 1.0f;
};

// Two groups with different hyperparameters over the odd sizes.
class Harness {
 public:
  explicit Harness(const RunSetup& setup) : setup_(setup) {
    for (int g = 0; g < 2; ++g) {
      ParamGroup group;
      group.lr = g == 0 ? 1e-3 : 3e-3;
      group.weight_decay = g == 0 ? 0.01 : 0.1;
      group.beta1 = g == 0 ? 0.9 : 0.8;
      group.beta2 = g == 0 ? 0.999 : 0.99;
      group.momentum = 0.9;
      group.nesterov = g == 1;
      groups_.push_back(group);
    }
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> init(-1.0, 1.0);
    for (std::size_t i = 0; i < OddSizes().size(); ++i) {
      const int g = i < 3 ? 0 : 1;
      params_.emplace_back(setup.param_dtype, OddSizes()[i]);
      grads_.emplace_back(setup.grad_dtype, OddSizes()[i]);
      for (std::size_t e = 0; e < OddSizes()[i]; ++e) params_.back().Set(e, init(rng));
      group_of_.push_back(g);
    }
    for (std::size_t i = 0; i < params_.size(); ++i) {
      groups_[group_of_[i]].params.push_back(params_[i].View());
      groups_[group_of_[i]].grads.push_back(grads_[i].View());
    }
  }

  std::vector<ParamGroup> groups() const { return groups_; }
  std::vector<Storage>& params() { return params_; }
  std::vector<Storage>& grads() { return grads_; }
  int group_of(std::size_t i) const { return group_of_[i]; }

  // The gradients of step `t`, a function of (t, tensor) only, stored scaled by grad_scale.
  void FillGrads(std::int64_t t) {
    for (std::size_t i = 0; i < grads_.size(); ++i) {
      std::mt19937 rng(static_cast<unsigned>(1000 * t + i));
      std::normal_distribution<double> normal(0.0, 1.0 + 0.5 * static_cast<double>(i));
      for (std::size_t e = 0; e < grads_[i].size(); ++e) {
        grads_[i].Set(e, normal(rng) * setup_.grad_scale);
      }
    }
  }

  std::unique_ptr<FusedOptimizer> Create() {
    auto opt = FusedOptimizer::Create(setup_.options, groups_);
    if (!opt.ok()) return nullptr;
    return std::move(opt).value();
  }

 private:
  RunSetup setup_;
  std::vector<ParamGroup> groups_;
  std::vector<Storage> params_, grads_;
  std::vector<int> group_of_;
};

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_OPTIMIZER_HARNESS_H_
