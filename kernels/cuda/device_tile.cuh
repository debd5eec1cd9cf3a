// Device helpers shared by the optimizer kernels: dtype conversion, the kIlp-element tiles a
// thread loads and stores (one 16-byte vector for float32 when aligned), the chunk walk of the
// multi-tensor apply, and a block sum in a fixed order. Included by .cu files only.
#ifndef TRAIN_KERNELS_CUDA_DEVICE_TILE_CUH_
#define TRAIN_KERNELS_CUDA_DEVICE_TILE_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "multi_tensor.h"
#include "train/dtype.h"

namespace train::cuda {

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

// Elements a thread does not have (past `n`) read as 0 and are never stored.
template <typename T>
__device__ __forceinline__ void LoadTile(float (&r)[kIlp], const T* x, std::int64_t base,
                                         std::int64_t n, bool vec) {
  if (vec) {
    const std::int64_t i = Index(base, 0, true);
    if (i < n) {
      const Pack<T> pack = reinterpret_cast<const Pack<T>*>(x)[i / kIlp];
#pragma unroll
      for (int k = 0; k < kIlp; ++k) r[k] = ToFloat(pack.v[k]);
    } else {
#pragma unroll
      for (int k = 0; k < kIlp; ++k) r[k] = 0.0f;
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

// One chunk of the multi-tensor apply: its tensor's slot, its first element and its length.
struct ChunkRef {
  int chunk;  // among the chunks of the launch
  int slot;
  std::int64_t start;
  std::int64_t n;
};

// Calls body(ChunkRef) for the chunks of this block: blockIdx.x, then a grid stride.
template <typename Body>
__device__ __forceinline__ void ForEachChunk(const TensorListMeta& meta, Body body) {
  int slot = 0;
  for (int c = static_cast<int>(blockIdx.x); c < meta.num_chunks;
       c += static_cast<int>(gridDim.x)) {
    while (meta.first_chunk[slot + 1] <= c) ++slot;
    const std::int64_t start = static_cast<std::int64_t>(c - meta.first_chunk[slot]) * kChunk;
    const std::int64_t rest = meta.numel[slot] - start;
    body(ChunkRef{c, slot, start, rest < kChunk ? rest : kChunk});
  }
}

// The sum of `value` over the block, added in a fixed order (so it never depends on
// scheduling); valid in thread 0. Every thread of the block must call it.
__device__ __forceinline__ double BlockSum(double value) {
  constexpr int kWarps = kThreads / 32;
  __shared__ double warp_sums[kWarps];
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  double total = 0;
  if (warp == 0) {
    total = lane < kWarps ? warp_sums[lane] : 0.0;
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
      total += __shfl_down_sync(0xffffffffu, total, offset);
    }
  }
  __syncthreads();  // warp_sums is free for the next call
  return total;
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

}  // namespace train::cuda

#endif  // TRAIN_KERNELS_CUDA_DEVICE_TILE_CUH_
