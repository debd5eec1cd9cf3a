// The per-step bookkeeping, on the device so that Step never waits for it: the global norm
// from the norm pass's partial sums, the skip flag, the clip factor, the schedule, the bias
// corrections from the device step counter, and the counter itself. Compiled with -fmad=false,
// as the CPU path has no fused multiply-adds either (pow and cos may still differ from glibc's
// in the last bit of a double, which a float scalar rarely sees).
#include <cmath>

#include "optimizer_kernels.h"

namespace train::cuda {
namespace {

// LrFactor of the CPU path.
__device__ double LrFactor(const LrSchedule& schedule, std::int64_t t) {
  const double step = static_cast<double>(t);
  const auto warmup = static_cast<double>(schedule.warmup_steps);
  if (schedule.kind == LrSchedule::Kind::kConstant) return 1.0;
  if (step < warmup) return step / warmup;
  if (schedule.kind == LrSchedule::Kind::kLinearWarmup) return 1.0;
  const double span = static_cast<double>(schedule.total_steps) - warmup;
  const double progress = fmin(1.0, (step - warmup) / span);
  constexpr double kPi = 3.14159265358979323846;
  return schedule.min_factor + (1.0 - schedule.min_factor) * 0.5 * (1.0 + cos(kPi * progress));
}

// GroupScalars of the CPU path, for the step after `taken` steps.
__device__ DeviceScalars GroupScalars(const GroupHyper& h, OptimizerKind kind, std::int64_t taken,
                                      double lr_factor, float grad_mul) {
  const double t = static_cast<double>(taken + 1);
  const double lr = h.lr * lr_factor;
  const double bc1 = 1.0 - pow(h.beta1, t);
  const double bc2 = 1.0 - pow(h.beta2, t);
  DeviceScalars s{};
  s.grad_mul = grad_mul;
  s.lr = static_cast<float>(lr);
  s.weight_decay = static_cast<float>(h.weight_decay);
  s.l2 = 0.0f;
  s.decay = 1.0f;
  s.beta1 = static_cast<float>(h.beta1);
  s.one_minus_beta1 = static_cast<float>(1.0 - h.beta1);
  s.beta2 = static_cast<float>(h.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - h.beta2);
  s.eps = static_cast<float>(h.eps);
  s.step_size = static_cast<float>(lr / bc1);
  s.bc2_sqrt = static_cast<float>(sqrt(bc2));
  s.inv_bc1 = static_cast<float>(1.0 / bc1);
  s.inv_bc2 = static_cast<float>(1.0 / bc2);
  if (kind == OptimizerKind::kAdamW) s.decay = static_cast<float>(1.0 - lr * h.weight_decay);
  if (kind == OptimizerKind::kAdam || kind == OptimizerKind::kSgd) s.l2 = s.weight_decay;
  // torch's first momentum step copies the gradient into the buffer.
  s.momentum_keep = taken == 0 ? 0.0f : static_cast<float>(h.momentum);
  s.nesterov_g = h.nesterov ? 1.0f : 0.0f;
  s.nesterov_buf = h.nesterov ? static_cast<float>(h.momentum) : 1.0f;
  return s;
}

__global__ void __launch_bounds__(kThreads) PrepareKernel(PrepareArgs a) {
  double acc = 0;
  for (int i = threadIdx.x; i < a.num_partials; i += kThreads) acc += a.partials[i];
  __shared__ double shared[kThreads];
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (static_cast<int>(threadIdx.x) < width) shared[threadIdx.x] += shared[threadIdx.x + width];
    __syncthreads();
  }
  __shared__ double clip;
  __shared__ bool skip;
  if (threadIdx.x == 0) {
    DeviceState& state = *a.state;
    const double lr_factor = LrFactor(a.schedule, state.step + 1);
    double grad_norm = 0;
    clip = 1.0;
    skip = false;
    if (a.need_norm) {
      grad_norm = sqrt(shared[0]) * (1.0 / a.grad_scale);
      skip = !isfinite(grad_norm);
      if (!skip && a.max_grad_norm > 0.0) clip = fmin(1.0, a.max_grad_norm / (grad_norm + 1e-6));
    }
    state.found_inf = skip ? 1 : 0;
    state.has_result = 1;
    state.grad_norm = grad_norm;
    state.lr_factor = lr_factor;
  }
  __syncthreads();
  if (skip) return;
  const std::int64_t taken = a.state->step;
  const double lr_factor = a.state->lr_factor;
  const auto grad_mul = static_cast<float>(clip / a.grad_scale);
  for (int g = threadIdx.x; g < a.num_groups; g += kThreads) {
    a.scalars[g] = GroupScalars(a.groups[g], a.kind, taken, lr_factor, grad_mul);
  }
  __syncthreads();
  if (threadIdx.x == 0) a.state->step = taken + 1;
}

}  // namespace

cudaError_t LaunchPrepare(const PrepareArgs& args, cudaStream_t stream) {
  PrepareKernel<<<1, kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace train::cuda
