// train::FusedOptimizer on CUDA tensors: a norm pass, a one-thread-block bookkeeping kernel
// and a multi-tensor update pass per step, queued on the optimizer's own stream. The step
// counter, skip flag and scalars stay on the device, so a capturable Step never waits.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../cuda_optimizer.h"
#include "../optimizer_state_check.h"
#include "cuda_status.h"
#include "optimizer_kernels.h"

namespace train::cuda {
namespace {

struct CudaFree {
  void operator()(void* p) const noexcept { cudaFree(p); }
};
using DeviceMemory = std::unique_ptr<void, CudaFree>;
struct HostFree {
  void operator()(DeviceState* p) const noexcept { cudaFreeHost(p); }
};
struct StreamDestroy {
  void operator()(cudaStream_t s) const noexcept { cudaStreamDestroy(s); }
};
using Stream = std::unique_ptr<CUstream_st, StreamDestroy>;

Status Allocate(std::size_t bytes, DeviceMemory* out) {
  void* ptr = nullptr;
  if (bytes > 0) TRAIN_CUDA_RETURN_IF_ERROR(cudaMalloc(&ptr, bytes));
  out->reset(ptr);
  return Status::Ok();
}

// Makes `device` current for a scope; the caller's current device comes back on exit.
class DeviceScope {
 public:
  DeviceScope() = default;
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
  ~DeviceScope() {
    if (restore_) cudaSetDevice(previous_);
  }
  Status Enter(int device) {
    TRAIN_CUDA_RETURN_IF_ERROR(cudaGetDevice(&previous_));
    if (previous_ != device) {
      TRAIN_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
      restore_ = true;
    }
    return Status::Ok();
  }

 private:
  int previous_ = 0;
  bool restore_ = false;
};

struct Buffer {
  std::string name;
  DeviceMemory memory;
  std::size_t bytes = 0;
};

// Tensors with one (param dtype, grad dtype): one kernel instantiation.
struct Bucket {
  DType param = DType::kFloat32, grad = DType::kFloat32;
  std::vector<TensorListMeta> launches;
};

class CudaOptimizer final : public FusedOptimizer {
 public:
  CudaOptimizer(const OptimizerOptions& options, std::vector<ParamGroup> groups, int device)
      : options_(options), groups_(std::move(groups)), device_(device) {}

  Status Init();
  Result<StepResult> Step(float grad_scale) override;
  Result<StepResult> LastStepResult() override;
  std::int64_t step() const override { return step_; }
  Result<OptimizerState> ExportState() const override;
  Status ImportState(const OptimizerState& state) override;

 private:
  Status AddBuffer(std::size_t group, std::size_t param, const char* what, DType dtype,
                   std::uint64_t numel, void** data);
  Status CheckPointer(const TensorView& t, const std::string& where) const;
  // Waits for the stream and copies the device state to host_state_.
  Status ReadState() const;

  OptimizerOptions options_;
  std::vector<ParamGroup> groups_;
  int device_ = 0;
  Stream stream_;
  std::vector<Buffer> buffers_;
  std::vector<Bucket> buckets_;
  int num_blocks_ = 0;
  DeviceMemory partials_, group_hyper_, scalars_, state_;
  std::unique_ptr<DeviceState, HostFree> host_state_;
  mutable std::int64_t step_ = 0;
};

Status CudaOptimizer::AddBuffer(std::size_t group, std::size_t param, const char* what, DType dtype,
                                std::uint64_t numel, void** data) {
  Buffer& buffer = buffers_.emplace_back();
  buffer.name = "group" + std::to_string(group) + "/param" + std::to_string(param) + "/" + what;
  buffer.bytes = numel * DTypeSize(dtype);
  TRAIN_RETURN_IF_ERROR(Allocate(buffer.bytes, &buffer.memory));
  if (buffer.bytes > 0) {
    TRAIN_CUDA_RETURN_IF_ERROR(
        cudaMemsetAsync(buffer.memory.get(), 0, buffer.bytes, stream_.get()));
  }
  *data = buffer.memory.get();
  return Status::Ok();
}

Status CudaOptimizer::CheckPointer(const TensorView& t, const std::string& where) const {
  if (t.numel == 0) return Status::Ok();
  cudaPointerAttributes attr{};
  TRAIN_CUDA_RETURN_IF_ERROR(cudaPointerGetAttributes(&attr, t.data));
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged) {
    return InvalidArgumentError(where + " is marked kCuda but its data is not CUDA device memory");
  }
  if (attr.type == cudaMemoryTypeDevice && attr.device != device_) {
    return InvalidArgumentError(where + " lives on cuda:" + std::to_string(attr.device) +
                                " but is marked cuda:" + std::to_string(device_));
  }
  return Status::Ok();
}

Status CudaOptimizer::Init() {
  DeviceScope scope;
  TRAIN_RETURN_IF_ERROR(scope.Enter(device_));
  cudaStream_t stream = nullptr;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  stream_.reset(stream);
  std::map<std::pair<DType, DType>, std::vector<TensorEntry>> by_dtype;
  std::vector<GroupHyper> hyper;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    hyper.push_back({group.lr, group.weight_decay, group.beta1, group.beta2, group.eps,
                     group.momentum, group.nesterov ? 1 : 0});
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const TensorView& param = group.params[i];
      const TensorView& grad = group.grads[i];
      const std::string where = "group " + std::to_string(g) + ", param " + std::to_string(i);
      TRAIN_RETURN_IF_ERROR(CheckPointer(param, where));
      TRAIN_RETURN_IF_ERROR(
          CheckPointer(grad, "group " + std::to_string(g) + ", grad " + std::to_string(i)));
      TensorEntry entry;
      entry.numel = static_cast<std::int64_t>(param.numel);
      entry.group = static_cast<int>(g);
      entry.ptrs[kParam] = param.data;
      entry.ptrs[kGrad] = grad.data;
      if (options_.master_weights && param.dtype != DType::kFloat32) {
        TRAIN_RETURN_IF_ERROR(
            AddBuffer(g, i, "master", DType::kFloat32, param.numel, &entry.ptrs[kMaster]));
        TRAIN_CUDA_RETURN_IF_ERROR(LaunchToFloat(param.dtype, param.data,
                                                 static_cast<float*>(entry.ptrs[kMaster]),
                                                 entry.numel, stream_.get()));
      }
      const DType md = options_.moment_dtype;
      switch (options_.kind) {
        case OptimizerKind::kAdamW:
        case OptimizerKind::kAdam:
        case OptimizerKind::kLamb:
          TRAIN_RETURN_IF_ERROR(AddBuffer(g, i, "exp_avg", md, param.numel, &entry.ptrs[kMoment1]));
          TRAIN_RETURN_IF_ERROR(
              AddBuffer(g, i, "exp_avg_sq", md, param.numel, &entry.ptrs[kMoment2]));
          break;
        case OptimizerKind::kLion:
          TRAIN_RETURN_IF_ERROR(AddBuffer(g, i, "exp_avg", md, param.numel, &entry.ptrs[kMoment1]));
          break;
        case OptimizerKind::kSgd:
          if (group.momentum != 0.0) {
            TRAIN_RETURN_IF_ERROR(
                AddBuffer(g, i, "momentum_buffer", md, param.numel, &entry.ptrs[kMoment1]));
          }
          break;
      }
      by_dtype[{param.dtype, grad.dtype}].push_back(entry);
    }
  }
  for (const auto& [dtypes, entries] : by_dtype) {
    Bucket& bucket = buckets_.emplace_back();
    bucket.param = dtypes.first;
    bucket.grad = dtypes.second;
    bucket.launches = PlanLaunches(entries, &num_blocks_);
  }
  TRAIN_RETURN_IF_ERROR(Allocate(sizeof(double) * std::max(1, num_blocks_), &partials_));
  TRAIN_RETURN_IF_ERROR(Allocate(sizeof(GroupHyper) * hyper.size(), &group_hyper_));
  TRAIN_RETURN_IF_ERROR(Allocate(sizeof(DeviceScalars) * hyper.size(), &scalars_));
  TRAIN_RETURN_IF_ERROR(Allocate(sizeof(DeviceState), &state_));
  DeviceState* host = nullptr;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMallocHost(&host, sizeof(DeviceState)));
  host_state_.reset(host);
  *host_state_ = DeviceState{};
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(group_hyper_.get(), hyper.data(),
                                             sizeof(GroupHyper) * hyper.size(),
                                             cudaMemcpyHostToDevice, stream_.get()));
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(state_.get(), 0, sizeof(DeviceState), stream_.get()));
  // `hyper` is pageable and goes out of scope: wait for the copies.
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()));
  return Status::Ok();
}

Result<StepResult> CudaOptimizer::Step(float grad_scale) {
  if (!(grad_scale > 0.0f) || !std::isfinite(grad_scale)) {
    return InvalidArgumentError("Step: grad_scale " + std::to_string(grad_scale) +
                                " must be finite and > 0 (1 when the loss is not scaled)");
  }
  DeviceScope scope;
  TRAIN_RETURN_IF_ERROR(scope.Enter(device_));
  cudaStream_t stream = stream_.get();
  PrepareArgs args{};
  args.need_norm = grad_scale != 1.0f || options_.max_grad_norm > 0.0;
  args.partials = static_cast<const double*>(partials_.get());
  args.num_partials = args.need_norm ? num_blocks_ : 0;
  args.grad_scale = grad_scale;
  args.max_grad_norm = options_.max_grad_norm;
  args.schedule = options_.schedule;
  args.kind = options_.kind;
  args.groups = static_cast<const GroupHyper*>(group_hyper_.get());
  args.num_groups = static_cast<int>(groups_.size());
  args.scalars = static_cast<DeviceScalars*>(scalars_.get());
  args.state = static_cast<DeviceState*>(state_.get());
  if (args.need_norm) {
    for (const Bucket& bucket : buckets_) {
      for (const TensorListMeta& meta : bucket.launches) {
        TRAIN_CUDA_RETURN_IF_ERROR(
            LaunchNormPartials(bucket.grad, meta, static_cast<double*>(partials_.get()), stream));
      }
    }
  }
  TRAIN_CUDA_RETURN_IF_ERROR(LaunchPrepare(args, stream));
  for (const Bucket& bucket : buckets_) {
    for (const TensorListMeta& meta : bucket.launches) {
      TRAIN_CUDA_RETURN_IF_ERROR(LaunchUpdate(options_.kind, bucket.param, bucket.grad,
                                              options_.moment_dtype, meta, args.scalars, args.state,
                                              stream));
    }
  }
  if (options_.capturable) {
    StepResult result;
    result.grad_norm = std::numeric_limits<double>::quiet_NaN();
    result.lr_factor = std::numeric_limits<double>::quiet_NaN();
    return result;
  }
  return LastStepResult();
}

Status CudaOptimizer::ReadState() const {
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host_state_.get(), state_.get(), sizeof(DeviceState),
                                             cudaMemcpyDeviceToHost, stream_.get()));
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()));
  step_ = host_state_->step;
  return Status::Ok();
}

Result<StepResult> CudaOptimizer::LastStepResult() {
  DeviceScope scope;
  TRAIN_RETURN_IF_ERROR(scope.Enter(device_));
  TRAIN_RETURN_IF_ERROR(ReadState());
  if (host_state_->has_result == 0) {
    return FailedPreconditionError("LastStepResult: no step was taken yet");
  }
  StepResult result;
  result.skipped = host_state_->found_inf != 0;
  result.grad_norm = host_state_->grad_norm;
  result.lr_factor = host_state_->lr_factor;
  return result;
}

Result<OptimizerState> CudaOptimizer::ExportState() const {
  DeviceScope scope;
  TRAIN_RETURN_IF_ERROR(scope.Enter(device_));
  TRAIN_RETURN_IF_ERROR(ReadState());
  OptimizerState state;
  state.step = step_;
  for (const Buffer& buffer : buffers_) {
    state.names.push_back(buffer.name);
    std::vector<std::byte>& bytes = state.buffers.emplace_back(buffer.bytes);
    if (buffer.bytes > 0) {
      TRAIN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(bytes.data(), buffer.memory.get(), buffer.bytes,
                                                 cudaMemcpyDeviceToHost, stream_.get()));
    }
  }
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()));
  return state;
}

Status CudaOptimizer::ImportState(const OptimizerState& state) {
  std::vector<internal::OwnedBuffer> owned;
  for (const Buffer& buffer : buffers_) owned.push_back({&buffer.name, buffer.bytes});
  TRAIN_RETURN_IF_ERROR(internal::CheckImportedState(state, owned));
  DeviceScope scope;
  TRAIN_RETURN_IF_ERROR(scope.Enter(device_));
  for (std::size_t i = 0; i < buffers_.size(); ++i) {
    if (buffers_[i].bytes > 0) {
      TRAIN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(buffers_[i].memory.get(), state.buffers[i].data(),
                                                 buffers_[i].bytes, cudaMemcpyHostToDevice,
                                                 stream_.get()));
    }
  }
  const std::int64_t step = state.step;
  TRAIN_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(state_.get(), &step, sizeof(step), cudaMemcpyHostToDevice, stream_.get()));
  // The sources are the caller's pageable memory and a local.
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()));
  step_ = step;
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FusedOptimizer>> CreateCudaOptimizer(const OptimizerOptions& options,
                                                            std::vector<ParamGroup> groups) {
  int count = 0;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
  if (options.kind == OptimizerKind::kLamb) {
    return FailedPreconditionError(
        "LAMB is not available for CUDA tensors in this version: use kAdamW, kAdam, kSgd or "
        "kLion on CUDA, or LAMB on CPU tensors");
  }
  int device = -1;
  for (const ParamGroup& group : groups) {
    if (!group.params.empty()) {
      device = group.params.front().device_index;
      break;
    }
  }
  if (device < 0 || device >= count) {
    return InvalidArgumentError("the tensors are on cuda:" + std::to_string(device) + " but " +
                                std::to_string(count) + " CUDA devices are visible");
  }
  auto optimizer = std::make_unique<CudaOptimizer>(options, std::move(groups), device);
  TRAIN_RETURN_IF_ERROR(optimizer->Init());
  return std::unique_ptr<FusedOptimizer>(std::move(optimizer));
}

}  // namespace train::cuda
