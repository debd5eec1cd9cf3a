// Kernels of the CUDA optimizer. Compiled with -fmad=false: the CPU path does no fused
// multiply-adds, and keeping them apart makes the element math round the same on both.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "optimizer_kernels.h"

namespace train::cuda {
namespace {

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half FromFloat<__half>(float x) {
  return __float2half_rn(x);
}

// kIlp elements moved as one load: 16 bytes for float32.
template <typename T>
struct alignas(sizeof(T) * kIlp) Pack {
  T v[kIlp];
};

template <typename T>
__device__ __forceinline__ bool Aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % (sizeof(T) * kIlp) == 0;
}

// One thread's kIlp elements of the pass starting at `base`: consecutive elements (one vector
// load) when `vec`, else a stride of kThreads, which keeps scalar loads coalesced.
__device__ __forceinline__ std::int64_t Index(std::int64_t base, int k, bool vec) {
  return vec ? base + static_cast<std::int64_t>(threadIdx.x) * kIlp + k
             : base + threadIdx.x + static_cast<std::int64_t>(k) * kThreads;
}

template <typename T>
__device__ __forceinline__ void LoadTile(float (&r)[kIlp], const T* x, std::int64_t base,
                                         std::int64_t n, bool vec) {
  if (vec) {
    const std::int64_t i = Index(base, 0, true);
    if (i < n) {
      const Pack<T> pack = reinterpret_cast<const Pack<T>*>(x)[i / kIlp];
#pragma unroll
      for (int k = 0; k < kIlp; ++k) r[k] = ToFloat(pack.v[k]);
    }
    return;
  }
#pragma unroll
  for (int k = 0; k < kIlp; ++k) {
    const std::int64_t i = Index(base, k, false);
    r[k] = i < n ? ToFloat(x[i]) : 0.0f;
  }
}

template <typename T>
__device__ __forceinline__ void StoreTile(const float (&r)[kIlp], T* x, std::int64_t base,
                                          std::int64_t n, bool vec) {
  if (vec) {
    const std::int64_t i = Index(base, 0, true);
    if (i < n) {
      Pack<T> pack;
#pragma unroll
      for (int k = 0; k < kIlp; ++k) pack.v[k] = FromFloat<T>(r[k]);
      reinterpret_cast<Pack<T>*>(x)[i / kIlp] = pack;
    }
    return;
  }
#pragma unroll
  for (int k = 0; k < kIlp; ++k) {
    const std::int64_t i = Index(base, k, false);
    if (i < n) x[i] = FromFloat<T>(r[k]);
  }
}

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
    UpdateKernel(TensorListMeta meta, const DeviceScalars* scalars, const DeviceState* state) {
  if (state->found_inf) return;
  const int slot = meta.slot_of_block[blockIdx.x];
  const std::int64_t start = static_cast<std::int64_t>(meta.chunk_of_block[blockIdx.x]) * kChunk;
  const std::int64_t n = min(meta.numel[slot] - start, kChunk);
  PT* p = static_cast<PT*>(meta.ptrs[kParam][slot]) + start;
  float* master = static_cast<float*>(meta.ptrs[kMaster][slot]);
  if (master != nullptr) master += start;
  const GT* g = static_cast<const GT*>(meta.ptrs[kGrad][slot]) + start;
  MT* m = static_cast<MT*>(meta.ptrs[kMoment1][slot]);
  MT* v = static_cast<MT*>(meta.ptrs[kMoment2][slot]);
  if (m != nullptr) m += start;
  if (v != nullptr) v += start;
  const DeviceScalars s = scalars[meta.group[slot]];
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
}

// Sum over the block in a fixed order: the result does not depend on scheduling.
__device__ double BlockSum(double value) {
  __shared__ double shared[kThreads];
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (static_cast<int>(threadIdx.x) < width) shared[threadIdx.x] += shared[threadIdx.x + width];
    __syncthreads();
  }
  return shared[0];
}

template <typename GT>
__global__ void __launch_bounds__(kThreads) NormKernel(TensorListMeta meta, double* partials) {
  const int slot = meta.slot_of_block[blockIdx.x];
  const std::int64_t start = static_cast<std::int64_t>(meta.chunk_of_block[blockIdx.x]) * kChunk;
  const std::int64_t n = min(meta.numel[slot] - start, kChunk);
  const GT* g = static_cast<const GT*>(meta.ptrs[kGrad][slot]) + start;
  double acc = 0;
  for (std::int64_t i = threadIdx.x; i < n; i += kThreads) {
    const double d = ToFloat(g[i]);
    acc += d * d;
  }
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

template <typename Fn>
cudaError_t DispatchFloat(DType dtype, Fn fn) {
  switch (dtype) {
    case DType::kBFloat16:
      return fn(__nv_bfloat16{});
    case DType::kFloat16:
      return fn(__half{});
    default:
      return fn(float{});
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

cudaError_t LaunchUpdate(OptimizerKind kind, DType param, DType grad, DType moment,
                         const TensorListMeta& meta, const DeviceScalars* scalars,
                         const DeviceState* state, cudaStream_t stream) {
  auto launch = [&](auto op, auto p, auto g, auto m) {
    UpdateKernel<decltype(op), decltype(p), decltype(g), decltype(m)>
        <<<meta.num_blocks, kThreads, 0, stream>>>(meta, scalars, state);
    return cudaGetLastError();
  };
  auto with_op = [&](auto op) {
    return DispatchFloat(param, [&](auto p) {
      return DispatchFloat(moment, [&](auto m) {
        // A gradient is float32 or the parameter's dtype (checked by Create).
        return grad == DType::kFloat32 ? launch(op, p, float{}, m) : launch(op, p, p, m);
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
      break;
  }
  return cudaErrorNotSupported;
}

std::vector<TensorListMeta> PlanLaunches(const std::vector<TensorEntry>& tensors, int* next_block) {
  std::vector<TensorListMeta> launches;
  TensorListMeta meta{};
  int slots = 0;
  auto flush = [&] {
    if (meta.num_blocks > 0) launches.push_back(meta);
    meta = TensorListMeta{};
    meta.block_offset = *next_block;
    slots = 0;
  };
  meta.block_offset = *next_block;
  for (const TensorEntry& t : tensors) {
    if (t.numel == 0) continue;
    bool placed = false;  // whether `t` holds the last slot of `meta`
    const std::int64_t chunks = (t.numel + kChunk - 1) / kChunk;
    for (std::int64_t c = 0; c < chunks; ++c) {
      if (meta.num_blocks == kMaxBlocks) flush(), placed = false;
      if (!placed) {
        if (slots == kMaxTensors) flush();
        for (int o = 0; o < kOperands; ++o) meta.ptrs[o][slots] = t.ptrs[o];
        meta.numel[slots] = t.numel;
        meta.group[slots] = t.group;
        ++slots;
        placed = true;
      }
      meta.slot_of_block[meta.num_blocks] = static_cast<std::uint8_t>(slots - 1);
      meta.chunk_of_block[meta.num_blocks] = static_cast<int>(c);
      ++meta.num_blocks;
      ++*next_block;
    }
  }
  flush();
  return launches;
}

}  // namespace train::cuda
