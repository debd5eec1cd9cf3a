#include "cpu_optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "../optimizer_state_check.h"
#include "optimizer_math.h"
#include "thread_pool.h"
#include "train/internal/half_float.h"

namespace train::cpu {
namespace {

// Elements per task: large enough that scheduling is noise, small enough to balance threads.
constexpr std::uint64_t kChunk = 64 * 1024;

struct Tensor {
  int group = 0;
  std::uint64_t numel = 0;
  TensorOperands ops;
};

struct Chunk {
  std::size_t tensor = 0;
  std::uint64_t begin = 0, end = 0;
};

struct Buffer {
  std::string name;
  std::vector<std::byte> bytes;
};

class CpuOptimizer final : public FusedOptimizer {
 public:
  CpuOptimizer(const OptimizerOptions& options, std::vector<ParamGroup> groups)
      : options_(options),
        groups_(std::move(groups)),
        pool_(options.num_threads > 0
                  ? options.num_threads
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {
    AllocateState();
  }

  Result<StepResult> Step(float grad_scale) override {
    Result<StepResult> result = RunStep(grad_scale);
    if (result.ok()) last_ = result;
    return result;
  }
  // On CPU, Step already knows its result; this repeats the last one.
  Result<StepResult> LastStepResult() override { return last_; }
  std::int64_t step() const override { return step_; }
  Result<OptimizerState> ExportState() const override;
  Status ImportState(const OptimizerState& state) override;

 private:
  // Adds an owned buffer of `numel` elements and returns its storage.
  void* AddBuffer(int group, std::size_t param, const char* what, DType dtype, std::uint64_t numel);
  void AllocateState();
  UpdateScalars GroupScalars(const ParamGroup& group, double lr_factor, float grad_mul) const;
  Result<StepResult> RunStep(float grad_scale);

  OptimizerOptions options_;
  std::vector<ParamGroup> groups_;
  std::vector<Tensor> tensors_;
  std::vector<Chunk> chunks_;
  std::vector<Buffer> buffers_;
  std::vector<double> partial_a_, partial_b_;  // per chunk, summed in chunk order
  ThreadPool pool_;
  std::int64_t step_ = 0;
  Result<StepResult> last_ = FailedPreconditionError("LastStepResult: no step was taken yet");
};

void* CpuOptimizer::AddBuffer(int group, std::size_t param, const char* what, DType dtype,
                              std::uint64_t numel) {
  Buffer& buffer = buffers_.emplace_back();
  buffer.name = "group" + std::to_string(group) + "/param" + std::to_string(param) + "/" + what;
  buffer.bytes.resize(numel * DTypeSize(dtype));
  return buffer.bytes.data();
}

void CpuOptimizer::AllocateState() {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const TensorView& param = group.params[i];
      Tensor& tensor = tensors_.emplace_back();
      tensor.group = static_cast<int>(g);
      tensor.numel = param.numel;
      tensor.ops.param = {param.data, param.dtype};
      tensor.ops.grad = {group.grads[i].data, group.grads[i].dtype};
      const int gi = static_cast<int>(g);
      if (options_.master_weights && param.dtype != DType::kFloat32) {
        auto* master =
            static_cast<float*>(AddBuffer(gi, i, "master", DType::kFloat32, param.numel));
        const auto* src = static_cast<const std::uint16_t*>(param.data);
        for (std::uint64_t e = 0; e < param.numel; ++e) {
          master[e] = param.dtype == DType::kBFloat16 ? internal::BFloatToFloat(src[e])
                                                      : internal::HalfToFloat(src[e]);
        }
        tensor.ops.master = master;
      }
      const DType md = options_.moment_dtype;
      switch (options_.kind) {
        case OptimizerKind::kAdamW:
        case OptimizerKind::kAdam:
        case OptimizerKind::kLamb:
          tensor.ops.m = {AddBuffer(gi, i, "exp_avg", md, param.numel), md};
          tensor.ops.v = {AddBuffer(gi, i, "exp_avg_sq", md, param.numel), md};
          break;
        case OptimizerKind::kLion:
          tensor.ops.m = {AddBuffer(gi, i, "exp_avg", md, param.numel), md};
          break;
        case OptimizerKind::kSgd:
          if (group.momentum != 0.0) {
            tensor.ops.m = {AddBuffer(gi, i, "momentum_buffer", md, param.numel), md};
          }
          break;
      }
      for (std::uint64_t begin = 0; begin < param.numel; begin += kChunk) {
        chunks_.push_back({tensors_.size() - 1, begin, std::min(param.numel, begin + kChunk)});
      }
    }
  }
  partial_a_.resize(chunks_.size());
  partial_b_.resize(chunks_.size());
}

UpdateScalars CpuOptimizer::GroupScalars(const ParamGroup& group, double lr_factor,
                                         float grad_mul) const {
  const double t = static_cast<double>(step_ + 1);
  const double lr = group.lr * lr_factor;
  const double bc1 = 1.0 - std::pow(group.beta1, t);
  const double bc2 = 1.0 - std::pow(group.beta2, t);
  UpdateScalars s;
  s.grad_mul = grad_mul;
  s.lr = static_cast<float>(lr);
  s.weight_decay = static_cast<float>(group.weight_decay);
  s.beta1 = static_cast<float>(group.beta1);
  s.one_minus_beta1 = static_cast<float>(1.0 - group.beta1);
  s.beta2 = static_cast<float>(group.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - group.beta2);
  s.eps = static_cast<float>(group.eps);
  s.step_size = static_cast<float>(lr / bc1);
  s.bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  s.inv_bc1 = static_cast<float>(1.0 / bc1);
  s.inv_bc2 = static_cast<float>(1.0 / bc2);
  switch (options_.kind) {
    case OptimizerKind::kAdamW:
      s.decay = static_cast<float>(1.0 - lr * group.weight_decay);
      break;
    case OptimizerKind::kAdam:
    case OptimizerKind::kSgd:
      s.l2 = s.weight_decay;
      break;
    case OptimizerKind::kLion:
    case OptimizerKind::kLamb:
      break;
  }
  // torch's first momentum step copies the gradient into the buffer.
  s.momentum_keep = step_ == 0 ? 0.0f : static_cast<float>(group.momentum);
  s.nesterov_g = group.nesterov ? 1.0f : 0.0f;
  s.nesterov_buf = group.nesterov ? static_cast<float>(group.momentum) : 1.0f;
  return s;
}

Result<StepResult> CpuOptimizer::RunStep(float grad_scale) {
  if (!(grad_scale > 0.0f) || !std::isfinite(grad_scale)) {
    return InvalidArgumentError("Step: grad_scale " + std::to_string(grad_scale) +
                                " must be finite and > 0 (1 when the loss is not scaled)");
  }
  StepResult result;
  result.lr_factor = LrFactor(options_.schedule, step_ + 1);
  double clip = 1.0;
  if (grad_scale != 1.0f || options_.max_grad_norm > 0.0) {
    pool_.ParallelFor(chunks_.size(), [&](std::size_t c) {
      const Chunk& chunk = chunks_[c];
      partial_a_[c] = SumSquares(tensors_[chunk.tensor].ops.grad, chunk.begin, chunk.end);
    });
    double sum = 0;
    for (double partial : partial_a_) sum += partial;
    const double inv_scale = 1.0 / grad_scale;
    result.grad_norm = std::sqrt(sum) * inv_scale;
    if (!std::isfinite(result.grad_norm)) {
      result.skipped = true;
      return result;
    }
    if (options_.max_grad_norm > 0.0) {
      clip = std::min(1.0, options_.max_grad_norm / (result.grad_norm + 1e-6));
    }
  }
  const auto grad_mul = static_cast<float>(clip / grad_scale);
  std::vector<UpdateScalars> scalars;
  scalars.reserve(groups_.size());
  for (const ParamGroup& group : groups_) {
    scalars.push_back(GroupScalars(group, result.lr_factor, grad_mul));
  }
  if (options_.kind != OptimizerKind::kLamb) {
    pool_.ParallelFor(chunks_.size(), [&](std::size_t c) {
      const Chunk& chunk = chunks_[c];
      const Tensor& tensor = tensors_[chunk.tensor];
      ApplyUpdate(options_.kind, tensor.ops, chunk.begin, chunk.end, scalars[tensor.group]);
    });
  } else {
    pool_.ParallelFor(chunks_.size(), [&](std::size_t c) {
      const Chunk& chunk = chunks_[c];
      const Tensor& tensor = tensors_[chunk.tensor];
      partial_a_[c] = 0;
      partial_b_[c] = 0;
      LambMoments(tensor.ops, chunk.begin, chunk.end, scalars[tensor.group], &partial_a_[c],
                  &partial_b_[c]);
    });
    // Per-tensor norms, summed in chunk order so the thread count never changes them.
    std::vector<double> param_sq(tensors_.size()), update_sq(tensors_.size());
    for (std::size_t c = 0; c < chunks_.size(); ++c) {
      param_sq[chunks_[c].tensor] += partial_a_[c];
      update_sq[chunks_[c].tensor] += partial_b_[c];
    }
    std::vector<UpdateScalars> per_tensor(tensors_.size());
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      const double p_norm = std::sqrt(param_sq[i]), r_norm = std::sqrt(update_sq[i]);
      const double ratio = p_norm > 0.0 && r_norm > 0.0 ? p_norm / r_norm : 1.0;
      per_tensor[i] = scalars[tensors_[i].group];
      per_tensor[i].lamb_step = static_cast<float>(per_tensor[i].lr * ratio);
    }
    pool_.ParallelFor(chunks_.size(), [&](std::size_t c) {
      const Chunk& chunk = chunks_[c];
      LambApply(tensors_[chunk.tensor].ops, chunk.begin, chunk.end, per_tensor[chunk.tensor]);
    });
  }
  ++step_;
  return result;
}

Result<OptimizerState> CpuOptimizer::ExportState() const {
  OptimizerState state;
  state.step = step_;
  for (const Buffer& buffer : buffers_) {
    state.names.push_back(buffer.name);
    state.buffers.push_back(buffer.bytes);
  }
  return state;
}

Status CpuOptimizer::ImportState(const OptimizerState& state) {
  std::vector<internal::OwnedBuffer> owned;
  for (const Buffer& buffer : buffers_) owned.push_back({&buffer.name, buffer.bytes.size()});
  TRAIN_RETURN_IF_ERROR(internal::CheckImportedState(state, owned));
  // Copy into the existing storage: the tensors' operands point at it.
  for (std::size_t i = 0; i < buffers_.size(); ++i) {
    if (!state.buffers[i].empty()) {
      std::memcpy(buffers_[i].bytes.data(), state.buffers[i].data(), state.buffers[i].size());
    }
  }
  step_ = state.step;
  return Status::Ok();
}

}  // namespace

double LrFactor(const LrSchedule& schedule, std::int64_t t) {
  const double step = static_cast<double>(t);
  const auto warmup = static_cast<double>(schedule.warmup_steps);
  if (schedule.kind == LrSchedule::Kind::kConstant) return 1.0;
  if (step < warmup) return step / warmup;
  if (schedule.kind == LrSchedule::Kind::kLinearWarmup) return 1.0;
  const double span = static_cast<double>(schedule.total_steps) - warmup;
  const double progress = std::min(1.0, (step - warmup) / span);
  constexpr double kPi = 3.14159265358979323846;
  return schedule.min_factor + (1.0 - schedule.min_factor) * 0.5 * (1.0 + std::cos(kPi * progress));
}

std::unique_ptr<FusedOptimizer> CreateCpuOptimizer(const OptimizerOptions& options,
                                                   std::vector<ParamGroup> groups) {
  return std::make_unique<CpuOptimizer>(options, std::move(groups));
}

}  // namespace train::cpu
