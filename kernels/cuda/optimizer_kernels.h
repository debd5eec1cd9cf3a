// The device side of the CUDA optimizer: the norm pass, the on-device step bookkeeping and the
// update passes (LAMB: moments and norms, trust ratios, update). Every launcher queues work on
// `stream` and returns the launch error; none waits for the device.
#ifndef TRAIN_KERNELS_CUDA_OPTIMIZER_KERNELS_H_
#define TRAIN_KERNELS_CUDA_OPTIMIZER_KERNELS_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "multi_tensor.h"
#include "train/dtype.h"
#include "train/optimizer.h"

namespace train::cuda {

// A group's hyperparameters, as given.
struct GroupHyper {
  double lr, weight_decay, beta1, beta2, eps, momentum;
  int nesterov;
};

// What the update of one group needs this step: the CPU path's UpdateScalars, computed on the
// device from the device step counter.
struct DeviceScalars {
  float grad_mul, lr, weight_decay, l2, decay;
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  float step_size, bc2_sqrt;
  float inv_bc1, inv_bc2;  // LAMB's bias corrections, as factors
  float momentum_keep, nesterov_g, nesterov_buf;
};

// Lives in device memory: Step reads and writes it without the host.
struct DeviceState {
  std::int64_t step;  // steps taken
  int found_inf;      // this step is skipped: the update pass does nothing
  int has_result;     // a step was taken since creation
  double grad_norm;   // of the last step
  double lr_factor;
};

struct PrepareArgs {
  const double* partials;  // per-block sums of squares, num_partials of them
  int num_partials;
  bool need_norm;
  float grad_scale;
  double max_grad_norm;
  LrSchedule schedule;
  OptimizerKind kind;
  const GroupHyper* groups;
  int num_groups;
  DeviceScalars* scalars;  // num_groups, written
  DeviceState* state;
};

cudaError_t LaunchToFloat(DType dtype, const void* src, float* dst, std::int64_t n,
                          cudaStream_t stream);
cudaError_t LaunchNormPartials(DType grad, const TensorListMeta& meta, double* partials,
                               cudaStream_t stream);
// Sums the partials, then sets the step's scalars, found_inf, the result and the counter.
cudaError_t LaunchPrepare(const PrepareArgs& args, cudaStream_t stream);
// AdamW, Adam, SGD or Lion over the tensors of `meta`, unless state->found_inf.
cudaError_t LaunchUpdate(OptimizerKind kind, DType param, DType grad, DType moment,
                         const TensorListMeta& meta, const DeviceScalars* scalars,
                         const DeviceState* state, cudaStream_t stream);

// Blocks of the update kernel(s) of `kind` for these dtypes that one multiprocessor runs at once.
cudaError_t UpdateBlocksPerSm(OptimizerKind kind, DType param, DType grad, DType moment,
                              int* blocks);
cudaError_t LambBlocksPerSm(DType param, DType grad, DType moment, int* blocks);

// LAMB, in three launches per step, unless state->found_inf. Pass 1 updates the moments and
// writes each chunk's ||p||^2 and ||r||^2 (r = m_hat / (sqrt(v_hat) + eps) + wd * p) to
// param_sq and update_sq at the chunk's index among all chunks of the step.
cudaError_t LaunchLambMoments(DType param, DType grad, DType moment, const TensorListMeta& meta,
                              const DeviceScalars* scalars, const DeviceState* state,
                              double* param_sq, double* update_sq, cudaStream_t stream);
// Per tensor: the chunk sums added in chunk order, the trust ratio ||p|| / ||r|| (1 when either
// is 0), and lamb_step[tensor] = lr * ratio.
cudaError_t LaunchLambTrust(const TensorChunks* tensors, int num_tensors, const double* param_sq,
                            const double* update_sq, const DeviceScalars* scalars,
                            const DeviceState* state, float* lamb_step, cudaStream_t stream);
// Pass 2: p -= lamb_step[tensor] * r, with r recomputed from the stored moments.
cudaError_t LaunchLambApply(DType param, DType moment, const TensorListMeta& meta,
                            const DeviceScalars* scalars, const DeviceState* state,
                            const float* lamb_step, cudaStream_t stream);

}  // namespace train::cuda

#endif  // TRAIN_KERNELS_CUDA_OPTIMIZER_KERNELS_H_
