#include "optimizer_math.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "train/internal/half_float.h"

namespace train::cpu {
namespace {

// Elements per block: four float32 scratch arrays of this size stay in L1.
constexpr std::size_t kBlock = 1024;

// A pointer to `n` float32 values of `op` from `offset`: the tensor itself when it is float32,
// else `scratch` filled by conversion.
float* Load(const Operand& op, std::uint64_t offset, std::size_t n, float* scratch) {
  if (op.dtype == DType::kFloat32) return static_cast<float*>(op.data) + offset;
  const std::uint16_t* src = static_cast<const std::uint16_t*>(op.data) + offset;
  if (op.dtype == DType::kBFloat16) {
    for (std::size_t i = 0; i < n; ++i) scratch[i] = internal::BFloatToFloat(src[i]);
  } else {
    for (std::size_t i = 0; i < n; ++i) scratch[i] = internal::HalfToFloat(src[i]);
  }
  return scratch;
}

// Writes `values` back to `op` (rounded), unless they are the tensor's own memory.
void Store(const Operand& op, std::uint64_t offset, std::size_t n, const float* values) {
  if (op.dtype == DType::kFloat32) {
    float* dst = static_cast<float*>(op.data) + offset;
    if (dst != values) std::copy(values, values + n, dst);
    return;
  }
  std::uint16_t* dst = static_cast<std::uint16_t*>(op.data) + offset;
  if (op.dtype == DType::kBFloat16) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = internal::FloatToBFloat(values[i]);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = internal::FloatToHalf(values[i]);
  }
}

void AdamCore(float* __restrict p, const float* __restrict g, float* __restrict m,
              float* __restrict v, std::size_t n, const UpdateScalars& s) {
  for (std::size_t i = 0; i < n; ++i) {
    const float gi = g[i] * s.grad_mul + s.l2 * p[i];
    const float mi = s.beta1 * m[i] + s.one_minus_beta1 * gi;
    const float vi = s.beta2 * v[i] + s.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / s.bc2_sqrt + s.eps;
    p[i] = p[i] * s.decay - s.step_size * mi / denom;
  }
}

void SgdCore(float* __restrict p, const float* __restrict g, std::size_t n,
             const UpdateScalars& s) {
  for (std::size_t i = 0; i < n; ++i) p[i] -= s.lr * (g[i] * s.grad_mul + s.l2 * p[i]);
}

void SgdMomentumCore(float* __restrict p, const float* __restrict g, float* __restrict buf,
                     std::size_t n, const UpdateScalars& s) {
  for (std::size_t i = 0; i < n; ++i) {
    const float gi = g[i] * s.grad_mul + s.l2 * p[i];
    const float b = s.momentum_keep * buf[i] + gi;
    buf[i] = b;
    p[i] -= s.lr * (s.nesterov_g * gi + s.nesterov_buf * b);
  }
}

void LionCore(float* __restrict p, const float* __restrict g, float* __restrict m, std::size_t n,
              const UpdateScalars& s) {
  for (std::size_t i = 0; i < n; ++i) {
    const float gi = g[i] * s.grad_mul;
    const float c = s.beta1 * m[i] + s.one_minus_beta1 * gi;
    const float sign = static_cast<float>(c > 0.0f) - static_cast<float>(c < 0.0f);
    p[i] -= s.lr * (sign + s.weight_decay * p[i]);
    m[i] = s.beta2 * m[i] + s.one_minus_beta2 * gi;
  }
}

// r = m_hat / (sqrt(v_hat) + eps) + wd * p, the same expression in both LAMB passes.
void LambDirection(const float* __restrict p, const float* __restrict m, const float* __restrict v,
                   float* __restrict r, std::size_t n, const UpdateScalars& s) {
  for (std::size_t i = 0; i < n; ++i) {
    r[i] = (m[i] * s.inv_bc1) / (std::sqrt(v[i] * s.inv_bc2) + s.eps) + s.weight_decay * p[i];
  }
}

// Eight independent accumulators: the compiler may vectorize them, and the order of additions
// depends only on `n`, never on threads.
double SumSquaresF32(const float* __restrict x, std::size_t n) {
  double acc[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (std::size_t j = 0; j < 8; ++j) {
      const double d = x[i + j];
      acc[j] += d * d;
    }
  }
  for (std::size_t j = 0; i < n; ++i, ++j) acc[j] += static_cast<double>(x[i]) * x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Runs `body(offset, n, p, g, m, v)` block by block over [begin, end) with float32 views, and
// writes converted storage back.
template <typename Body>
void ForEachBlock(const TensorOperands& t, std::uint64_t begin, std::uint64_t end,
                  bool writes_param, bool reads_grad, bool writes_moments, Body body) {
  float p_scratch[kBlock], g_scratch[kBlock], m_scratch[kBlock], v_scratch[kBlock];
  for (std::uint64_t offset = begin; offset < end; offset += kBlock) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, end - offset));
    float* p = t.master != nullptr ? t.master + offset : Load(t.param, offset, n, p_scratch);
    float* g = reads_grad ? Load(t.grad, offset, n, g_scratch) : nullptr;
    float* m = t.m.data != nullptr ? Load(t.m, offset, n, m_scratch) : nullptr;
    float* v = t.v.data != nullptr ? Load(t.v, offset, n, v_scratch) : nullptr;
    body(n, p, g, m, v);
    if (writes_param) Store(t.param, offset, n, p);
    if (writes_moments && m != nullptr) Store(t.m, offset, n, m);
    if (writes_moments && v != nullptr) Store(t.v, offset, n, v);
  }
}

}  // namespace

void ApplyUpdate(OptimizerKind kind, const TensorOperands& t, std::uint64_t begin,
                 std::uint64_t end, const UpdateScalars& s) {
  ForEachBlock(t, begin, end, /*writes_param=*/true, /*reads_grad=*/true, /*writes_moments=*/true,
               [&](std::size_t n, float* p, float* g, float* m, float* v) {
                 switch (kind) {
                   case OptimizerKind::kAdamW:
                   case OptimizerKind::kAdam:
                     AdamCore(p, g, m, v, n, s);
                     break;
                   case OptimizerKind::kSgd:
                     if (m != nullptr) {
                       SgdMomentumCore(p, g, m, n, s);
                     } else {
                       SgdCore(p, g, n, s);
                     }
                     break;
                   case OptimizerKind::kLion:
                     LionCore(p, g, m, n, s);
                     break;
                   case OptimizerKind::kLamb:
                     break;  // two passes: LambMoments and LambApply
                 }
               });
}

void LambMoments(const TensorOperands& t, std::uint64_t begin, std::uint64_t end,
                 const UpdateScalars& s, double* param_sq, double* update_sq) {
  float r[kBlock];
  double p_acc = 0, r_acc = 0;
  ForEachBlock(t, begin, end, /*writes_param=*/false, /*reads_grad=*/true, /*writes_moments=*/true,
               [&](std::size_t n, float* p, float* g, float* m, float* v) {
                 for (std::size_t i = 0; i < n; ++i) {
                   const float gi = g[i] * s.grad_mul;
                   m[i] = s.beta1 * m[i] + s.one_minus_beta1 * gi;
                   v[i] = s.beta2 * v[i] + s.one_minus_beta2 * gi * gi;
                 }
                 LambDirection(p, m, v, r, n, s);
                 p_acc += SumSquaresF32(p, n);
                 r_acc += SumSquaresF32(r, n);
               });
  *param_sq += p_acc;
  *update_sq += r_acc;
}

void LambApply(const TensorOperands& t, std::uint64_t begin, std::uint64_t end,
               const UpdateScalars& s) {
  float r[kBlock];
  ForEachBlock(t, begin, end, /*writes_param=*/true, /*reads_grad=*/false, /*writes_moments=*/false,
               [&](std::size_t n, float* p, float*, float* m, float* v) {
                 LambDirection(p, m, v, r, n, s);
                 for (std::size_t i = 0; i < n; ++i) p[i] -= s.lamb_step * r[i];
               });
}

double SumSquares(const Operand& grad, std::uint64_t begin, std::uint64_t end) {
  float scratch[kBlock];
  double total = 0;
  for (std::uint64_t offset = begin; offset < end; offset += kBlock) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, end - offset));
    total += SumSquaresF32(Load(grad, offset, n, scratch), n);
  }
  return total;
}

}  // namespace train::cpu
