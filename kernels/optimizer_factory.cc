// FusedOptimizer::Create: checks the options and groups, then picks the implementation for
// the device the tensors live on.
#include <cmath>
#include <string>
#include <utility>

#include "cpu/cpu_optimizer.h"
#include "cuda_optimizer.h"
#include "train/optimizer.h"

namespace train {
namespace {

std::string DeviceName(const TensorView& t) {
  return t.device == Device::kCpu ? "cpu" : "cuda:" + std::to_string(t.device_index);
}

std::string Where(std::size_t group, const char* what, std::size_t index) {
  return "group " + std::to_string(group) + ", " + what + " " + std::to_string(index);
}

bool IsFloat(DType d) {
  return d == DType::kFloat32 || d == DType::kBFloat16 || d == DType::kFloat16;
}

Status CheckOptions(const OptimizerOptions& options) {
  if (options.moment_dtype != DType::kFloat32 && options.moment_dtype != DType::kBFloat16) {
    return InvalidArgumentError("moment_dtype " + std::string(DTypeName(options.moment_dtype)) +
                                " is not supported: use float32 or bfloat16");
  }
  if (!(options.max_grad_norm >= 0.0)) {
    return InvalidArgumentError("max_grad_norm " + std::to_string(options.max_grad_norm) +
                                " must be >= 0 (0 disables clipping)");
  }
  if (options.num_threads < 0) {
    return InvalidArgumentError("num_threads " + std::to_string(options.num_threads) +
                                " must be >= 0 (0 picks the hardware concurrency)");
  }
  const LrSchedule& s = options.schedule;
  if (s.warmup_steps < 0) {
    return InvalidArgumentError("schedule.warmup_steps " + std::to_string(s.warmup_steps) +
                                " must be >= 0");
  }
  if (s.kind == LrSchedule::Kind::kCosine) {
    if (s.total_steps <= s.warmup_steps) {
      return InvalidArgumentError("cosine schedule: total_steps " + std::to_string(s.total_steps) +
                                  " must exceed warmup_steps " + std::to_string(s.warmup_steps));
    }
    if (!(s.min_factor >= 0.0 && s.min_factor <= 1.0)) {
      return InvalidArgumentError("cosine schedule: min_factor " + std::to_string(s.min_factor) +
                                  " must be in [0, 1]");
    }
  }
  return Status::Ok();
}

Status CheckHyperparameters(std::size_t g, const ParamGroup& group, OptimizerKind kind) {
  const std::string where = "group " + std::to_string(g) + ": ";
  auto bad = [&](const char* name, double value, const char* rule) {
    return InvalidArgumentError(where + name + " " + std::to_string(value) + " " + rule);
  };
  if (!(group.lr >= 0.0) || !std::isfinite(group.lr)) return bad("lr", group.lr, "must be >= 0");
  if (!(group.weight_decay >= 0.0)) return bad("weight_decay", group.weight_decay, "must be >= 0");
  if (!(group.beta1 >= 0.0 && group.beta1 < 1.0)) return bad("beta1", group.beta1, "not in [0, 1)");
  if (!(group.beta2 >= 0.0 && group.beta2 < 1.0)) return bad("beta2", group.beta2, "not in [0, 1)");
  if ((kind == OptimizerKind::kAdamW || kind == OptimizerKind::kAdam ||
       kind == OptimizerKind::kLamb) &&
      !(group.eps > 0.0)) {
    return bad("eps", group.eps, "must be > 0");
  }
  if (!(group.momentum >= 0.0)) return bad("momentum", group.momentum, "must be >= 0");
  if (kind == OptimizerKind::kSgd && group.nesterov && group.momentum == 0.0) {
    return InvalidArgumentError(where + "nesterov needs momentum > 0");
  }
  return Status::Ok();
}

Status CheckTensor(const TensorView& t, const TensorView& first, const std::string& where) {
  if (t.device != first.device ||
      (t.device == Device::kCuda && t.device_index != first.device_index)) {
    return InvalidArgumentError(where + " is on " + DeviceName(t) + " but the first tensor is on " +
                                DeviceName(first) + ": put every tensor on one device");
  }
  if (t.numel > 0 && t.data == nullptr) {
    return InvalidArgumentError(where + " has " + std::to_string(t.numel) +
                                " elements but no data pointer");
  }
  return Status::Ok();
}

Status CheckGroups(const OptimizerOptions& options, const std::vector<ParamGroup>& groups,
                   const TensorView& first) {
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const ParamGroup& group = groups[g];
    if (group.params.size() != group.grads.size()) {
      return InvalidArgumentError("group " + std::to_string(g) + ": " +
                                  std::to_string(group.params.size()) + " params but " +
                                  std::to_string(group.grads.size()) +
                                  " grads: pass one gradient per parameter");
    }
    TRAIN_RETURN_IF_ERROR(CheckHyperparameters(g, group, options.kind));
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const TensorView& p = group.params[i];
      const TensorView& grad = group.grads[i];
      TRAIN_RETURN_IF_ERROR(CheckTensor(p, first, Where(g, "param", i)));
      TRAIN_RETURN_IF_ERROR(CheckTensor(grad, first, Where(g, "grad", i)));
      if (!IsFloat(p.dtype)) {
        return InvalidArgumentError(Where(g, "param", i) + ": dtype " +
                                    std::string(DTypeName(p.dtype)) +
                                    " is not supported: use float32, bfloat16 or float16");
      }
      if (grad.dtype != DType::kFloat32 && grad.dtype != p.dtype) {
        return InvalidArgumentError(
            Where(g, "grad", i) + ": dtype " + std::string(DTypeName(grad.dtype)) +
            " must be float32 or the param's dtype " + std::string(DTypeName(p.dtype)));
      }
      if (grad.numel != p.numel) {
        return InvalidArgumentError(Where(g, "grad", i) + ": numel " + std::to_string(grad.numel) +
                                    " but the param has " + std::to_string(p.numel));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FusedOptimizer>> FusedOptimizer::Create(const OptimizerOptions& options,
                                                               std::vector<ParamGroup> groups) {
  TRAIN_RETURN_IF_ERROR(CheckOptions(options));
  const TensorView* first = nullptr;
  for (const ParamGroup& group : groups) {
    if (!group.params.empty()) {
      first = &group.params.front();
      break;
    }
  }
  if (first == nullptr) {
    return InvalidArgumentError("no parameters: pass at least one group with a tensor");
  }
  TRAIN_RETURN_IF_ERROR(CheckGroups(options, groups, *first));
  if (first->device == Device::kCuda) {
    return cuda::CreateCudaOptimizer(options, std::move(groups));
  }
  return cpu::CreateCpuOptimizer(options, std::move(groups));
}

}  // namespace train
