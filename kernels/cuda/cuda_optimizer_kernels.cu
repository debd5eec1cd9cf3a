// Kernels of the CUDA optimizer. Compiled with -fmad=false: the CPU path does no fused
// multiply-adds, and keeping them apart makes the element math round the same on both.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "device_tile.cuh"
#include "optimizer_kernels.h"

namespace train::cuda {
namespace {

// The element updates: the same expressions, in the same order, as the CPU path.
struct AdamOp {
  __device__ void operator()(float& p, float g, float& m, float& v, const DeviceScalars& s,
                             bool) const {
    const float gi = g * s.grad_mul + s.l2 * p;
    m = s.beta1 * m + s.one_minus_beta1 * gi;
    v = s.beta2 * v + s.one_minus_beta2 * gi * gi;
    const float denom = sqrtf(v) / s.bc2_sqrt + s.eps;
    p = p * s.decay - s.step_size * m / denom;
  }
};

struct SgdOp {
  __device__ void operator()(float& p, float g, float& buf, float&, const DeviceScalars& s,
                             bool has_buf) const {
    const float gi = g * s.grad_mul + s.l2 * p;
    if (!has_buf) {
      p -= s.lr * gi;
      return;
    }
    buf = s.momentum_keep * buf + gi;
    p -= s.lr * (s.nesterov_g * gi + s.nesterov_buf * buf);
  }
};

struct LionOp {
  __device__ void operator()(float& p, float g, float& m, float&, const DeviceScalars& s,
                             bool) const {
    const float gi = g * s.grad_mul;
    const float c = s.beta1 * m + s.one_minus_beta1 * gi;
    const float sign = static_cast<float>(c > 0.0f) - static_cast<float>(c < 0.0f);
    p -= s.lr * (sign + s.weight_decay * p);
    m = s.beta2 * m + s.one_minus_beta2 * gi;
  }
};

template <typename Op, typename PT, typename GT, typename MT>
__global__ void __launch_bounds__(kThreads)
    UpdateKernel(const __grid_constant__ TensorListMeta meta, const DeviceScalars* scalars,
                 const DeviceState* state) {
  if (state->found_inf) return;
  ForEachChunk(meta, [&](const ChunkRef& c) {
    const std::int64_t n = c.n;
    PT* p = static_cast<PT*>(meta.ptrs[kParam][c.slot]) + c.start;
    float* master = static_cast<float*>(meta.ptrs[kMaster][c.slot]);
    if (master != nullptr) master += c.start;
    const GT* g = static_cast<const GT*>(meta.ptrs[kGrad][c.slot]) + c.start;
    MT* m = static_cast<MT*>(meta.ptrs[kMoment1][c.slot]);
    MT* v = static_cast<MT*>(meta.ptrs[kMoment2][c.slot]);
    if (m != nullptr) m += c.start;
    if (v != nullptr) v += c.start;
    const DeviceScalars s = scalars[meta.group[c.slot]];
    // Vector loads only when every operand of the chunk allows them (null ones do).
    const bool vec = n % kIlp == 0 && Aligned<PT>(p) && Aligned<float>(master) && Aligned<GT>(g) &&
                     Aligned<MT>(m) && Aligned<MT>(v);
    const Op op;
    for (std::int64_t base = 0; base < n; base += static_cast<std::int64_t>(kThreads) * kIlp) {
      float rp[kIlp], rg[kIlp], rm[kIlp] = {}, rv[kIlp] = {};
      if (master != nullptr) {
        LoadTile(rp, master, base, n, vec);
      } else {
        LoadTile(rp, p, base, n, vec);
      }
      LoadTile(rg, g, base, n, vec);
      if (m != nullptr) LoadTile(rm, m, base, n, vec);
      if (v != nullptr) LoadTile(rv, v, base, n, vec);
#pragma unroll
      for (int k = 0; k < kIlp; ++k) op(rp[k], rg[k], rm[k], rv[k], s, m != nullptr);
      if (master != nullptr) StoreTile(rp, master, base, n, vec);
      StoreTile(rp, p, base, n, vec);
      if (m != nullptr) StoreTile(rm, m, base, n, vec);
      if (v != nullptr) StoreTile(rv, v, base, n, vec);
    }
  });
}

// Each block's sum of squares of the gradient over its chunks, at the block's index among all
// blocks of the step. Which chunks a block takes depends only on the launch plan, so the sum
// is the same from run to run.
template <typename GT>
__global__ void __launch_bounds__(kThreads)
    NormKernel(const __grid_constant__ TensorListMeta meta, double* partials) {
  double acc = 0;
  ForEachChunk(meta, [&](const ChunkRef& c) {
    const GT* g = static_cast<const GT*>(meta.ptrs[kGrad][c.slot]) + c.start;
    for (std::int64_t i = threadIdx.x; i < c.n; i += kThreads) {
      const double d = ToFloat(g[i]);
      acc += d * d;
    }
  });
  const double total = BlockSum(acc);
  if (threadIdx.x == 0) partials[meta.block_offset + blockIdx.x] = total;
}

template <typename T>
__global__ void ToFloatKernel(const T* src, float* dst, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    dst[i] = ToFloat(src[i]);
  }
}

}  // namespace

cudaError_t LaunchToFloat(DType dtype, const void* src, float* dst, std::int64_t n,
                          cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  return DispatchFloat(dtype, [&](auto tag) {
    using T = decltype(tag);
    const auto blocks = static_cast<unsigned>(std::min<std::int64_t>((n + 255) / 256, 4096));
    ToFloatKernel<T><<<blocks, 256, 0, stream>>>(static_cast<const T*>(src), dst, n);
    return cudaGetLastError();
  });
}

cudaError_t LaunchNormPartials(DType grad, const TensorListMeta& meta, double* partials,
                               cudaStream_t stream) {
  return DispatchFloat(grad, [&](auto tag) {
    NormKernel<decltype(tag)><<<meta.num_blocks, kThreads, 0, stream>>>(meta, partials);
    return cudaGetLastError();
  });
}

namespace {

// Calls fn(kernel) with the update kernel of `kind` for these dtypes.
template <typename Fn>
cudaError_t WithUpdateKernel(OptimizerKind kind, DType param, DType grad, DType moment, Fn fn) {
  auto with_op = [&](auto op) {
    return DispatchFloat(param, [&](auto p) {
      return DispatchFloat(moment, [&](auto m) {
        using P = decltype(p);
        using M = decltype(m);
        // A gradient is float32 or the parameter's dtype (checked by Create).
        return grad == DType::kFloat32 ? fn(UpdateKernel<decltype(op), P, float, M>)
                                       : fn(UpdateKernel<decltype(op), P, P, M>);
      });
    });
  };
  switch (kind) {
    case OptimizerKind::kAdamW:
    case OptimizerKind::kAdam:
      return with_op(AdamOp{});
    case OptimizerKind::kSgd:
      return with_op(SgdOp{});
    case OptimizerKind::kLion:
      return with_op(LionOp{});
    case OptimizerKind::kLamb:
      break;  // three launches: LaunchLambMoments, LaunchLambTrust, LaunchLambApply
  }
  return cudaErrorNotSupported;
}

}  // namespace

cudaError_t LaunchUpdate(OptimizerKind kind, DType param, DType grad, DType moment,
                         const TensorListMeta& meta, const DeviceScalars* scalars,
                         const DeviceState* state, cudaStream_t stream) {
  return WithUpdateKernel(kind, param, grad, moment, [&](auto kernel) {
    kernel<<<meta.num_blocks, kThreads, 0, stream>>>(meta, scalars, state);
    return cudaGetLastError();
  });
}

cudaError_t UpdateBlocksPerSm(OptimizerKind kind, DType param, DType grad, DType moment,
                              int* blocks) {
  if (kind == OptimizerKind::kLamb) return LambBlocksPerSm(param, grad, moment, blocks);
  return WithUpdateKernel(kind, param, grad, moment, [&](auto kernel) {
    return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, kernel, kThreads, 0);
  });
}

std::vector<TensorListMeta> PlanLaunches(const std::vector<TensorEntry>& tensors, int max_blocks,
                                         PlanCursor* cursor, std::vector<TensorChunks>* chunks) {
  std::vector<TensorListMeta> launches;
  TensorListMeta meta{};
  auto flush = [&] {
    if (meta.num_tensors > 0) {
      meta.num_blocks = std::min(meta.num_chunks, max_blocks);
      meta.block_offset = cursor->block;
      cursor->block += meta.num_blocks;
      launches.push_back(meta);
    }
    meta = TensorListMeta{};
    meta.chunk_offset = cursor->chunk;
  };
  meta.chunk_offset = cursor->chunk;
  for (const TensorEntry& t : tensors) {
    if (t.numel == 0) continue;
    // Chunk indices are int: 2^31 chunks would be 2^45 elements, more than any device holds.
    const int count = static_cast<int>((t.numel + kChunk - 1) / kChunk);
    if (meta.num_tensors == kMaxTensors) flush();
    const int slot = meta.num_tensors++;
    for (int o = 0; o < kOperands; ++o) meta.ptrs[o][slot] = t.ptrs[o];
    meta.numel[slot] = t.numel;
    meta.group[slot] = t.group;
    meta.tensor[slot] = t.tensor;
    meta.first_chunk[slot] = meta.num_chunks;
    meta.num_chunks += count;
    meta.first_chunk[slot + 1] = meta.num_chunks;
    (*chunks)[static_cast<std::size_t>(t.tensor)] = {cursor->chunk, count, t.group};
    cursor->chunk += count;
  }
  flush();
  return launches;
}

}  // namespace train::cuda
