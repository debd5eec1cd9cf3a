// LAMB on the device (You et al. 2019), as the CPU path computes it: pass 1 updates the moments
// and sums ||p||^2 and ||r||^2 per chunk, a per-tensor kernel turns the chunk sums into the
// trust ratio, pass 2 applies it. Nothing goes back to the host, so a step stays capturable.
// Compiled with -fmad=false, like the other element math.
#include <algorithm>
#include <cstdint>

#include "device_tile.cuh"
#include "optimizer_kernels.h"

namespace train::cuda {
namespace {

// r = m_hat / (sqrt(v_hat) + eps) + wd * p: the CPU path's LambDirection, in the same order.
__device__ __forceinline__ float LambDirection(float p, float m, float v, const DeviceScalars& s) {
  return (m * s.inv_bc1) / (sqrtf(v * s.inv_bc2) + s.eps) + s.weight_decay * p;
}

// The operands of one chunk: the float32 master when there is one, else the parameter.
template <typename PT, typename GT, typename MT>
struct LambChunk {
  PT* p;
  float* master;
  const GT* g;
  MT* m;
  MT* v;
  bool vec;

  __device__ LambChunk(const TensorListMeta& meta, const ChunkRef& c) {
    p = static_cast<PT*>(meta.ptrs[kParam][c.slot]) + c.start;
    master = static_cast<float*>(meta.ptrs[kMaster][c.slot]);
    if (master != nullptr) master += c.start;
    g = static_cast<const GT*>(meta.ptrs[kGrad][c.slot]) + c.start;
    m = static_cast<MT*>(meta.ptrs[kMoment1][c.slot]) + c.start;
    v = static_cast<MT*>(meta.ptrs[kMoment2][c.slot]) + c.start;
    vec = c.n % kIlp == 0 && Aligned<PT>(p) && Aligned<float>(master) && Aligned<GT>(g) &&
          Aligned<MT>(m) && Aligned<MT>(v);
  }

  __device__ void LoadParam(float (&r)[kIlp], std::int64_t base, std::int64_t n) const {
    if (master != nullptr) {
      LoadTile(r, master, base, n, vec);
    } else {
      LoadTile(r, p, base, n, vec);
    }
  }
};

// Pass 1. The direction uses the moments as computed, before they are rounded to their storage
// type, as the CPU path does. Elements past the chunk's end load as 0 and add 0 to the sums.
template <typename PT, typename GT, typename MT>
__global__ void __launch_bounds__(kThreads)
    LambMomentsKernel(const __grid_constant__ TensorListMeta meta, const DeviceScalars* scalars,
                      const DeviceState* state, double* param_sq, double* update_sq) {
  if (state->found_inf) return;
  ForEachChunk(meta, [&](const ChunkRef& c) {
    const LambChunk<PT, GT, MT> t(meta, c);
    const DeviceScalars s = scalars[meta.group[c.slot]];
    double p_acc = 0, r_acc = 0;
    for (std::int64_t base = 0; base < c.n; base += static_cast<std::int64_t>(kThreads) * kIlp) {
      float rp[kIlp], rg[kIlp], rm[kIlp], rv[kIlp];
      t.LoadParam(rp, base, c.n);
      LoadTile(rg, t.g, base, c.n, t.vec);
      LoadTile(rm, t.m, base, c.n, t.vec);
      LoadTile(rv, t.v, base, c.n, t.vec);
#pragma unroll
      for (int k = 0; k < kIlp; ++k) {
        const float gi = rg[k] * s.grad_mul;
        rm[k] = s.beta1 * rm[k] + s.one_minus_beta1 * gi;
        rv[k] = s.beta2 * rv[k] + s.one_minus_beta2 * gi * gi;
        const double r = LambDirection(rp[k], rm[k], rv[k], s);
        const double p = rp[k];
        p_acc += p * p;
        r_acc += r * r;
      }
      StoreTile(rm, t.m, base, c.n, t.vec);
      StoreTile(rv, t.v, base, c.n, t.vec);
    }
    const double p_total = BlockSum(p_acc);
    const double r_total = BlockSum(r_acc);
    if (threadIdx.x == 0) {
      param_sq[meta.chunk_offset + c.chunk] = p_total;
      update_sq[meta.chunk_offset + c.chunk] = r_total;
    }
  });
}

// One block per tensor: its chunk sums, added in chunk order (each thread a fixed stride of
// them, then the block sum in a fixed order), the norms and the step.
__global__ void __launch_bounds__(kThreads)
    LambTrustKernel(const TensorChunks* tensors, const double* param_sq, const double* update_sq,
                    const DeviceScalars* scalars, const DeviceState* state, float* lamb_step) {
  if (state->found_inf) return;
  const TensorChunks t = tensors[blockIdx.x];
  double p_acc = 0, r_acc = 0;
  for (int c = static_cast<int>(threadIdx.x); c < t.num_chunks; c += kThreads) {
    p_acc += param_sq[t.first_chunk + c];
    r_acc += update_sq[t.first_chunk + c];
  }
  const double p_total = BlockSum(p_acc);
  const double r_total = BlockSum(r_acc);
  if (threadIdx.x == 0) {
    const double p_norm = sqrt(p_total), r_norm = sqrt(r_total);
    const double ratio = p_norm > 0.0 && r_norm > 0.0 ? p_norm / r_norm : 1.0;
    lamb_step[blockIdx.x] = static_cast<float>(static_cast<double>(scalars[t.group].lr) * ratio);
  }
}

// Pass 2: the direction again, from the moments as stored, and p -= lamb_step * r.
template <typename PT, typename MT>
__global__ void __launch_bounds__(kThreads)
    LambApplyKernel(const __grid_constant__ TensorListMeta meta, const DeviceScalars* scalars,
                    const DeviceState* state, const float* lamb_step) {
  if (state->found_inf) return;
  ForEachChunk(meta, [&](const ChunkRef& c) {
    // The gradient is not read: its type does not matter here.
    const LambChunk<PT, float, MT> t(meta, c);
    const DeviceScalars s = scalars[meta.group[c.slot]];
    const float step = lamb_step[meta.tensor[c.slot]];
    for (std::int64_t base = 0; base < c.n; base += static_cast<std::int64_t>(kThreads) * kIlp) {
      float rp[kIlp], rm[kIlp], rv[kIlp];
      t.LoadParam(rp, base, c.n);
      LoadTile(rm, t.m, base, c.n, t.vec);
      LoadTile(rv, t.v, base, c.n, t.vec);
#pragma unroll
      for (int k = 0; k < kIlp; ++k) rp[k] -= step * LambDirection(rp[k], rm[k], rv[k], s);
      if (t.master != nullptr) StoreTile(rp, t.master, base, c.n, t.vec);
      StoreTile(rp, t.p, base, c.n, t.vec);
    }
  });
}

}  // namespace

cudaError_t LaunchLambMoments(DType param, DType grad, DType moment, const TensorListMeta& meta,
                              const DeviceScalars* scalars, const DeviceState* state,
                              double* param_sq, double* update_sq, cudaStream_t stream) {
  return DispatchFloat(param, [&](auto p) {
    return DispatchFloat(moment, [&](auto m) {
      auto launch = [&](auto g) {
        LambMomentsKernel<decltype(p), decltype(g), decltype(m)>
            <<<meta.num_blocks, kThreads, 0, stream>>>(meta, scalars, state, param_sq, update_sq);
        return cudaGetLastError();
      };
      // A gradient is float32 or the parameter's dtype (checked by Create).
      return grad == DType::kFloat32 ? launch(float{}) : launch(p);
    });
  });
}

cudaError_t LambBlocksPerSm(DType param, DType grad, DType moment, int* blocks) {
  return DispatchFloat(param, [&](auto p) {
    return DispatchFloat(moment, [&](auto m) {
      using P = decltype(p);
      using M = decltype(m);
      int moments = 0, apply = 0;
      cudaError_t err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &moments,
          grad == DType::kFloat32 ? LambMomentsKernel<P, float, M> : LambMomentsKernel<P, P, M>,
          kThreads, 0);
      if (err == cudaSuccess) {
        err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&apply, LambApplyKernel<P, M>, kThreads,
                                                            0);
      }
      *blocks = std::min(moments, apply);
      return err;
    });
  });
}

cudaError_t LaunchLambTrust(const TensorChunks* tensors, int num_tensors, const double* param_sq,
                            const double* update_sq, const DeviceScalars* scalars,
                            const DeviceState* state, float* lamb_step, cudaStream_t stream) {
  if (num_tensors == 0) return cudaSuccess;
  LambTrustKernel<<<num_tensors, kThreads, 0, stream>>>(tensors, param_sq, update_sq, scalars,
                                                        state, lamb_step);
  return cudaGetLastError();
}

cudaError_t LaunchLambApply(DType param, DType moment, const TensorListMeta& meta,
                            const DeviceScalars* scalars, const DeviceState* state,
                            const float* lamb_step, cudaStream_t stream) {
  return DispatchFloat(param, [&](auto p) {
    return DispatchFloat(moment, [&](auto m) {
      LambApplyKernel<decltype(p), decltype(m)>
          <<<meta.num_blocks, kThreads, 0, stream>>>(meta, scalars, state, lamb_step);
      return cudaGetLastError();
    });
  });
}

}  // namespace train::cuda
