// The per-element arithmetic of the CPU optimizers over one range of one tensor: each call
// reads the parameter (or its float32 master), gradient and moments of the range once and
// writes them back once. Math is float32; bfloat16/float16 storage is converted per block.
#ifndef TRAIN_KERNELS_CPU_OPTIMIZER_MATH_H_
#define TRAIN_KERNELS_CPU_OPTIMIZER_MATH_H_

#include <cstdint>

#include "train/dtype.h"
#include "train/optimizer.h"

namespace train::cpu {

// Element 0 of a tensor, in its storage type. Null when the tensor is not there (no moment).
struct Operand {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
};

struct TensorOperands {
  Operand param;
  float* master = nullptr;  // when set, the update happens here and `param` gets it rounded
  Operand grad;
  Operand m;  // exp_avg / momentum_buffer
  Operand v;  // exp_avg_sq
};

// Everything the element loop needs, precomputed once per group and step.
struct UpdateScalars {
  float grad_mul = 1;  // clip factor / grad_scale
  float lr = 0;        // lr * schedule factor
  float weight_decay = 0;
  float l2 = 0;     // Adam/SGD: added to the gradient as l2 * p
  float decay = 1;  // AdamW: p *= 1 - lr * wd before the update
  float beta1 = 0, one_minus_beta1 = 1, beta2 = 0, one_minus_beta2 = 1, eps = 0;
  float step_size = 0;                     // Adam/AdamW: lr / (1 - beta1^t)
  float bc2_sqrt = 1;                      // Adam/AdamW: sqrt(1 - beta2^t)
  float inv_bc1 = 1, inv_bc2 = 1;          // LAMB's bias corrections, as factors
  float momentum_keep = 0;                 // SGD: momentum, or 0 on the first step (buf = g)
  float nesterov_g = 0, nesterov_buf = 1;  // SGD: direction = a * g + b * buf
  float lamb_step = 0;                     // LAMB pass 2: lr * trust ratio
};

// AdamW, Adam, SGD or Lion over [begin, end).
void ApplyUpdate(OptimizerKind kind, const TensorOperands& t, std::uint64_t begin,
                 std::uint64_t end, const UpdateScalars& s);

// LAMB pass 1: updates the moments and adds ||p||^2 and ||r||^2 of the range to the outputs.
void LambMoments(const TensorOperands& t, std::uint64_t begin, std::uint64_t end,
                 const UpdateScalars& s, double* param_sq, double* update_sq);
// LAMB pass 2: p -= lamb_step * r, with r recomputed from the stored moments.
void LambApply(const TensorOperands& t, std::uint64_t begin, std::uint64_t end,
               const UpdateScalars& s);

// The sum of squares of a gradient range, in double (inf/nan propagate).
double SumSquares(const Operand& grad, std::uint64_t begin, std::uint64_t end);

}  // namespace train::cpu

#endif  // TRAIN_KERNELS_CPU_OPTIMIZER_MATH_H_
