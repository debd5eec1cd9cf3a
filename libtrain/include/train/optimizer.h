// Fused optimizers: AdamW, Adam, SGD (momentum, Nesterov), Lion and LAMB, one pass over memory
// per step, on CPU or CUDA tensors, with the same semantics on both.
//
//   train::OptimizerOptions options;
//   options.kind = train::OptimizerKind::kAdamW;
//   auto opt = train::FusedOptimizer::Create(options, {group});
//   auto result = (*opt)->Step();          // result->skipped when a gradient was inf/nan
//
// The optimizer does not own parameters or gradients: a group points at the caller's memory.
// It owns what it adds: moments, and float32 master weights when `master_weights` is set.
#ifndef TRAIN_OPTIMIZER_H_
#define TRAIN_OPTIMIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/dtype.h"
#include "train/status.h"
#include "train/tensor.h"

namespace train {

enum class OptimizerKind { kAdamW, kAdam, kSgd, kLion, kLamb };

// The learning rate over steps: lr * factor(t), t = 1 for the first step taken. Warmup is
// t / warmup_steps while t < warmup_steps; kCosine then goes from 1 to min_factor at
// t = total_steps (> warmup_steps) and stays there.
struct LrSchedule {
  enum class Kind { kConstant, kLinearWarmup, kCosine };
  Kind kind = Kind::kConstant;
  std::int64_t warmup_steps = 0;  // linear from 0 to 1 (kLinearWarmup, and kCosine's start)
  std::int64_t total_steps = 0;   // kCosine: decays to min_factor at this step
  double min_factor = 0.0;
};

// One parameter group: tensors that share hyperparameters. params[i] pairs with grads[i]
// (same numel; the gradient in the parameter's dtype or float32).
struct ParamGroup {
  std::vector<TensorView> params;
  std::vector<TensorView> grads;
  double lr = 1e-3;
  double weight_decay = 0.0;  // decoupled for AdamW and Lion; L2 (added to the gradient) for
                              // Adam and SGD; LAMB's is decoupled inside the trust ratio
  double beta1 = 0.9;         // Adam/AdamW/LAMB first moment; Lion's interpolation; SGD: unused
  double beta2 = 0.999;       // second moment; Lion's moment update
  double eps = 1e-8;
  double momentum = 0.0;  // SGD
  bool nesterov = false;  // SGD
};

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdamW;
  DType moment_dtype = DType::kFloat32;  // kFloat32 or kBFloat16
  // float32 master copies of bfloat16/float16 parameters: the update happens in float32 and
  // the parameter gets the rounded result.
  bool master_weights = false;
  double max_grad_norm = 0.0;  // > 0: clip the global gradient norm (after unscaling)
  LrSchedule schedule;
  int num_threads = 0;  // CPU: 0 picks the hardware concurrency
  // CUDA: Step never waits for the device (the step counter, schedule, clip factor and
  // inf/nan flag stay in device memory), so it can be captured in a CUDA graph. Step then
  // reports skipped = false and NaN for grad_norm and lr_factor; LastStepResult() waits and
  // tells. Ignored on CPU, where Step always knows its result.
  bool capturable = false;
  // CUDA: the stream (a cudaStream_t) every call queues its work on, so a step runs after what
  // the caller queued there before (the backward pass), and with `capturable` a graph captured
  // on it records the step. Null: the optimizer's own stream, which is not ordered against the
  // caller's work (synchronize before Step). Ignored on CPU.
  void* cuda_stream = nullptr;
};

struct StepResult {
  bool skipped = false;    // an inf/nan gradient: no parameter or state was touched
  double grad_norm = 0.0;  // global norm after unscaling (computed when clipping or asked)
  double lr_factor = 1.0;  // the schedule's factor for this step
};

// The complete state, for checkpoints: step counter and every owned buffer, in group order.
struct OptimizerState {
  std::int64_t step = 0;
  std::vector<std::string> names;               // "group0/param3/exp_avg", ...
  std::vector<std::vector<std::byte>> buffers;  // host copies, in the order of names
};

class FusedOptimizer {
 public:
  virtual ~FusedOptimizer() = default;
  FusedOptimizer(const FusedOptimizer&) = delete;
  FusedOptimizer& operator=(const FusedOptimizer&) = delete;

  // Checks the groups (matching lists, numels, dtypes, one device for all) with errors naming
  // the group, the index and the mismatch.
  static Result<std::unique_ptr<FusedOptimizer>> Create(const OptimizerOptions& options,
                                                        std::vector<ParamGroup> groups);

  // One step. `grad_scale` (finite, > 0) is the loss scale of mixed-precision training:
  // gradients are divided by it. When grad_scale != 1 or max_grad_norm > 0, one pass first
  // computes the global norm, and a step whose gradients hold inf or nan is skipped (and
  // reported; the step counter does not advance). The result is the same for every thread
  // count.
  virtual Result<StepResult> Step(float grad_scale = 1.0f) = 0;

  // The result of the last step taken (waiting for the device when needed); FAILED_PRECONDITION
  // before the first Step.
  virtual Result<StepResult> LastStepResult() = 0;

  // Steps taken. With `capturable`, as of the last Step result the host has seen (Step without
  // capturable, LastStepResult, ExportState).
  virtual std::int64_t step() const = 0;
  virtual Result<OptimizerState> ExportState() const = 0;
  // The state of an optimizer built with the same options and groups (names and sizes must
  // match; the error names the first that does not). Parameters are the caller's: restore
  // them too. Continuing after an import gives the same bits as an uninterrupted run.
  virtual Status ImportState(const OptimizerState& state) = 0;

 protected:
  FusedOptimizer() = default;
};

}  // namespace train

#endif  // TRAIN_OPTIMIZER_H_
