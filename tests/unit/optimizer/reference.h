// A float64 reference of each optimizer, written from the papers and torch's documented
// semantics, independent of the fused implementation; and the test's own dtype conversions.
#ifndef TRAIN_TESTS_UNIT_OPTIMIZER_REFERENCE_H_
#define TRAIN_TESTS_UNIT_OPTIMIZER_REFERENCE_H_

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "train/optimizer.h"

namespace train::testing {

inline double FromBits(DType dtype, std::uint16_t h) {
  if (dtype == DType::kBFloat16) return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
  return static_cast<float>(std::bit_cast<_Float16>(h));
}

inline std::uint16_t ToBits(DType dtype, double x) {
  const float f = static_cast<float>(x);
  if (dtype == DType::kFloat16) return std::bit_cast<std::uint16_t>(static_cast<_Float16>(f));
  const std::uint32_t b = std::bit_cast<std::uint32_t>(f);  // finite inputs only
  return static_cast<std::uint16_t>((b + 0x7fff + ((b >> 16) & 1)) >> 16);
}

inline double ReferenceLrFactor(const LrSchedule& s, std::int64_t t) {
  if (s.kind == LrSchedule::Kind::kConstant) return 1.0;
  if (t < s.warmup_steps) return double(t) / double(s.warmup_steps);
  if (s.kind == LrSchedule::Kind::kLinearWarmup) return 1.0;
  const double progress =
      std::min(1.0, double(t - s.warmup_steps) / double(s.total_steps - s.warmup_steps));
  return s.min_factor + (1 - s.min_factor) * (1 + std::cos(M_PI * progress)) / 2;
}

struct ReferenceTensor {
  std::vector<double> p, m, v;
};

// One optimizer over tensors grouped like the fused one.
class Reference {
 public:
  Reference(OptimizerKind kind, std::vector<ParamGroup> groups, double max_grad_norm)
      : kind_(kind), groups_(std::move(groups)), max_grad_norm_(max_grad_norm) {}

  std::vector<std::vector<ReferenceTensor>>& tensors() { return tensors_; }

  // grads[group][tensor] are the unscaled gradients. Returns false when the step is skipped.
  bool Step(const std::vector<std::vector<std::vector<double>>>& grads, double lr_factor,
            bool check_finite) {
    double sq = 0;
    for (const auto& group : grads)
      for (const auto& g : group)
        for (double x : g) sq += x * x;
    const double norm = std::sqrt(sq);
    if (check_finite && !std::isfinite(norm)) return false;
    const double clip = max_grad_norm_ > 0 ? std::min(1.0, max_grad_norm_ / (norm + 1e-6)) : 1.0;
    ++t_;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      for (std::size_t i = 0; i < tensors_[gi].size(); ++i) {
        StepTensor(groups_[gi], lr_factor, clip, grads[gi][i], tensors_[gi][i]);
      }
    }
    return true;
  }

 private:
  void StepTensor(const ParamGroup& h, double lr_factor, double clip,
                  const std::vector<double>& grad, ReferenceTensor& t) {
    const double lr = h.lr * lr_factor, wd = h.weight_decay, b1 = h.beta1, b2 = h.beta2;
    const double bc1 = 1 - std::pow(b1, t_), bc2 = 1 - std::pow(b2, t_);
    std::vector<double> r(t.p.size());
    for (std::size_t e = 0; e < t.p.size(); ++e) {
      double g = grad[e] * clip;
      double& p = t.p[e];
      double& m = t.m[e];
      double& v = t.v[e];
      switch (kind_) {
        case OptimizerKind::kAdamW:  // Loshchilov & Hutter: decay decoupled from the gradient
        case OptimizerKind::kAdam: {
          if (kind_ == OptimizerKind::kAdam) g += wd * p;
          m = b1 * m + (1 - b1) * g;
          v = b2 * v + (1 - b2) * g * g;
          const double update = (m / bc1) / (std::sqrt(v / bc2) + h.eps);
          p -= lr * update + (kind_ == OptimizerKind::kAdamW ? lr * wd * p : 0.0);
          break;
        }
        case OptimizerKind::kSgd: {
          g += wd * p;
          double d = g;
          if (h.momentum != 0) {
            m = t_ == 1 ? g : h.momentum * m + g;
            d = h.nesterov ? g + h.momentum * m : m;
          }
          p -= lr * d;
          break;
        }
        case OptimizerKind::kLion: {  // Chen et al. 2023
          const double c = b1 * m + (1 - b1) * g;
          const double sign = c > 0 ? 1.0 : (c < 0 ? -1.0 : 0.0);
          p -= lr * (sign + wd * p);
          m = b2 * m + (1 - b2) * g;
          break;
        }
        case OptimizerKind::kLamb:  // You et al. 2019
          m = b1 * m + (1 - b1) * g;
          v = b2 * v + (1 - b2) * g * g;
          r[e] = (m / bc1) / (std::sqrt(v / bc2) + h.eps) + wd * p;
          break;
      }
    }
    if (kind_ != OptimizerKind::kLamb) return;
    double pn = 0, rn = 0;
    for (std::size_t e = 0; e < t.p.size(); ++e) {
      pn += t.p[e] * t.p[e];
      rn += r[e] * r[e];
    }
    const double ratio = pn > 0 && rn > 0 ? std::sqrt(pn) / std::sqrt(rn) : 1.0;
    for (std::size_t e = 0; e < t.p.size(); ++e) t.p[e] -= lr * ratio * r[e];
  }

  OptimizerKind kind_;
  std::vector<ParamGroup> groups_;
  double max_grad_norm_;
  std::int64_t t_ = 0;
  std::vector<std::vector<ReferenceTensor>> tensors_;
};

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_OPTIMIZER_REFERENCE_H_
