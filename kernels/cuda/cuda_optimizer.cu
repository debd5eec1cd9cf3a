// train::FusedOptimizer on CUDA tensors: a norm pass, a one-thread-block bookkeeping kernel
// and a multi-tensor update pass per step (LAMB: moments and norms, trust ratios, update),
// queued on the caller's stream (OptimizerOptions::cuda_stream) or the optimizer's own. The
// step counter, skip flag and scalars stay on the device, and everything is allocated when the
// optimizer is built, so a capturable Step never waits and can be captured in a CUDA graph.
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

// Tensors with one (param dtype, grad dtype): one kernel instantiation per pass.
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
  // Blocks of the update kernel for these dtypes that the device runs at once: the most one
  // launch of the apply uses.
  Result<int> ResidentBlocks(DType param, DType grad) const;
  // LAMB's three passes, after the bookkeeping kernel.
  Status QueueLamb(cudaStream_t stream);
  // Waits for the stream and copies the device state to host_state_.
  Status ReadState() const;

  OptimizerOptions options_;
  std::vector<ParamGroup> groups_;
  int device_ = 0;
  Stream own_stream_;              // when the caller gives none
  cudaStream_t stream_ = nullptr;  // where every call queues its work
  std::vector<Buffer> buffers_;
  std::vector<Bucket> buckets_;
  PlanCursor planned_;  // chunks and blocks of all launches of a pass
  int num_tensors_ = 0;
  DeviceMemory partials_, group_hyper_, scalars_, state_;
  // LAMB: per-chunk ||p||^2 and ||r||^2, where each tensor's chunks are, its step.
  DeviceMemory param_sq_, update_sq_, tensor_chunks_, lamb_step_;
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
    TRAIN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(buffer.memory.get(), 0, buffer.bytes, stream_));
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

Result<int> CudaOptimizer::ResidentBlocks(DType param, DType grad) const {
  int sms = 0, per_sm = 0;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device_));
  TRAIN_CUDA_RETURN_IF_ERROR(
      UpdateBlocksPerSm(options_.kind, param, grad, options_.moment_dtype, &per_sm));
  return std::max(1, sms * per_sm);
}

Status CudaOptimizer::Init() {
  DeviceScope scope;
  TRAIN_RETURN_IF_ERROR(scope.Enter(device_));
  if (options_.cuda_stream != nullptr) {
    stream_ = static_cast<cudaStream_t>(options_.cuda_stream);
  } else {
    TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    own_stream_.reset(stream_);
  }
  std::map<std::pair<DType, DType>, std::vector<TensorEntry>> by_dtype;
  std::vector<GroupHyper> hyper;
  std::vector<TensorChunks> chunks;  // by tensor index; PlanLaunches fills in the non-empty
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
      entry.tensor = num_tensors_++;
      chunks.push_back({0, 0, entry.group});
      entry.ptrs[kParam] = param.data;
      entry.ptrs[kGrad] = grad.data;
      if (options_.master_weights && param.dtype != DType::kFloat32) {
        TRAIN_RETURN_IF_ERROR(
            AddBuffer(g, i, "master", DType::kFloat32, param.numel, &entry.ptrs[kMaster]));
        TRAIN_CUDA_RETURN_IF_ERROR(LaunchToFloat(param.dtype, param.data,
                                                 static_cast<float*>(entry.ptrs[kMaster]),
                                                 entry.numel, stream_));
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
    TRAIN_ASSIGN_OR_RETURN(const int max_blocks, ResidentBlocks(bucket.param, bucket.grad));
    bucket.launches = PlanLaunches(entries, max_blocks, &planned_, &chunks);
  }
  TRAIN_RETURN_IF_ERROR(
      Allocate(sizeof(double) * static_cast<std::size_t>(std::max(1, planned_.block)), &partials_));
  if (options_.kind == OptimizerKind::kLamb) {
    const std::size_t sums = sizeof(double) * static_cast<std::size_t>(std::max(1, planned_.chunk));
    TRAIN_RETURN_IF_ERROR(Allocate(sums, &param_sq_));
    TRAIN_RETURN_IF_ERROR(Allocate(sums, &update_sq_));
    TRAIN_RETURN_IF_ERROR(Allocate(sizeof(TensorChunks) * chunks.size(), &tensor_chunks_));
    TRAIN_RETURN_IF_ERROR(Allocate(sizeof(float) * chunks.size(), &lamb_step_));
    if (!chunks.empty()) {
      TRAIN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(tensor_chunks_.get(), chunks.data(),
                                                 sizeof(TensorChunks) * chunks.size(),
                                                 cudaMemcpyHostToDevice, stream_));
    }
  }
  TRAIN_RETURN_IF_ERROR(Allocate(sizeof(GroupHyper) * hyper.size(), &group_hyper_));
  TRAIN_RETURN_IF_ERROR(Allocate(sizeof(DeviceScalars) * hyper.size(), &scalars_));
  TRAIN_RETURN_IF_ERROR(Allocate(sizeof(DeviceState), &state_));
  DeviceState* host = nullptr;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMallocHost(&host, sizeof(DeviceState)));
  host_state_.reset(host);
  *host_state_ = DeviceState{};
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(group_hyper_.get(), hyper.data(),
                                             sizeof(GroupHyper) * hyper.size(),
                                             cudaMemcpyHostToDevice, stream_));
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(state_.get(), 0, sizeof(DeviceState), stream_));
  // `hyper` and `chunks` are pageable and go out of scope: wait for the copies.
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

Result<StepResult> CudaOptimizer::Step(float grad_scale) {
  if (!(grad_scale > 0.0f) || !std::isfinite(grad_scale)) {
    return InvalidArgumentError("Step: grad_scale " + std::to_string(grad_scale) +
                                " must be finite and > 0 (1 when the loss is not scaled)");
  }
  DeviceScope scope;
  TRAIN_RETURN_IF_ERROR(scope.Enter(device_));
  cudaStream_t stream = stream_;
  PrepareArgs args{};
  args.need_norm = grad_scale != 1.0f || options_.max_grad_norm > 0.0;
  args.partials = static_cast<const double*>(partials_.get());
  args.num_partials = args.need_norm ? planned_.block : 0;
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
  if (options_.kind == OptimizerKind::kLamb) {
    TRAIN_RETURN_IF_ERROR(QueueLamb(stream));
  } else {
    for (const Bucket& bucket : buckets_) {
      for (const TensorListMeta& meta : bucket.launches) {
        TRAIN_CUDA_RETURN_IF_ERROR(LaunchUpdate(options_.kind, bucket.param, bucket.grad,
                                                options_.moment_dtype, meta, args.scalars,
                                                args.state, stream));
      }
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

Status CudaOptimizer::QueueLamb(cudaStream_t stream) {
  const auto* scalars = static_cast<const DeviceScalars*>(scalars_.get());
  const auto* state = static_cast<const DeviceState*>(state_.get());
  auto* param_sq = static_cast<double*>(param_sq_.get());
  auto* update_sq = static_cast<double*>(update_sq_.get());
  auto* lamb_step = static_cast<float*>(lamb_step_.get());
  for (const Bucket& bucket : buckets_) {
    for (const TensorListMeta& meta : bucket.launches) {
      TRAIN_CUDA_RETURN_IF_ERROR(LaunchLambMoments(bucket.param, bucket.grad, options_.moment_dtype,
                                                   meta, scalars, state, param_sq, update_sq,
                                                   stream));
    }
  }
  TRAIN_CUDA_RETURN_IF_ERROR(LaunchLambTrust(static_cast<const TensorChunks*>(tensor_chunks_.get()),
                                             num_tensors_, param_sq, update_sq, scalars, state,
                                             lamb_step, stream));
  for (const Bucket& bucket : buckets_) {
    for (const TensorListMeta& meta : bucket.launches) {
      TRAIN_CUDA_RETURN_IF_ERROR(LaunchLambApply(bucket.param, options_.moment_dtype, meta, scalars,
                                                 state, lamb_step, stream));
    }
  }
  return Status::Ok();
}

Status CudaOptimizer::ReadState() const {
  TRAIN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host_state_.get(), state_.get(), sizeof(DeviceState),
                                             cudaMemcpyDeviceToHost, stream_));
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
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
                                                 cudaMemcpyDeviceToHost, stream_));
    }
  }
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
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
                                                 stream_));
    }
  }
  const std::int64_t step = state.step;
  TRAIN_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(state_.get(), &step, sizeof(step), cudaMemcpyHostToDevice, stream_));
  // The sources are the caller's pageable memory and a local.
  TRAIN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  step_ = step;
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FusedOptimizer>> CreateCudaOptimizer(const OptimizerOptions& options,
                                                            std::vector<ParamGroup> groups) {
  int count = 0;
  TRAIN_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
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
