// Tensors that live twice, as bytes on the host and on a CUDA device, for tests that run one
// optimizer on each (or two on the device) and compare. Views may start at an odd address.
#ifndef TRAIN_TESTS_GPU_TWIN_H_
#define TRAIN_TESTS_GPU_TWIN_H_

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "train/optimizer.h"

namespace train::gpu_testing {

inline float ToFloat(std::uint16_t h, DType d) {
  if (d == DType::kFloat16) return __half2float(__ushort_as_half(h));
  const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline std::uint16_t FromFloat(float f, DType d) {  // exact for the values the tests make
  if (d == DType::kFloat16) return __half_as_ushort(__float2half(f));
  std::uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return static_cast<std::uint16_t>(bits >> 16);
}

// One tensor, as bytes on the host and on the device.
struct Twin {
  std::vector<std::byte> host;
  void* device = nullptr;
  void* base = nullptr;  // what cudaMalloc returned
  DType dtype = DType::kFloat32;
  std::size_t numel = 0;

  void Set(std::size_t i, float v) {
    if (dtype == DType::kFloat32) {
      std::memcpy(host.data() + 4 * i, &v, 4);
    } else {
      const std::uint16_t h = FromFloat(v, dtype);
      std::memcpy(host.data() + 2 * i, &h, 2);
    }
  }
  float Get(const std::vector<std::byte>& bytes, std::size_t i) const {
    if (dtype == DType::kFloat32) {
      float f;
      std::memcpy(&f, bytes.data() + 4 * i, 4);
      return f;
    }
    std::uint16_t h;
    std::memcpy(&h, bytes.data() + 2 * i, 2);
    return ToFloat(h, dtype);
  }
  // Host to device, finished before it returns: the optimizers queue on streams that a plain
  // cudaMemcpy does not order against.
  void Upload() const {
    if (!host.empty()) {
      ASSERT_EQ(cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice), cudaSuccess);
    }
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  std::vector<std::byte> Download() const {
    std::vector<std::byte> out(host.size());
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    if (!out.empty()) {
      EXPECT_EQ(cudaMemcpy(out.data(), device, out.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return out;
  }
  TensorView HostView() { return {host.data(), dtype, numel, Device::kCpu, 0}; }
  TensorView DeviceView() const { return {device, dtype, numel, Device::kCuda, 0}; }
};

// Skips without a usable device; owns the twins it makes.
class TwinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      GTEST_SKIP() << "no usable CUDA device";
    }
  }
  void TearDown() override { Clear(); }

  void Clear() {
    for (Twin& t : twins_) cudaFree(t.base);
    twins_.clear();
  }

  // Every third twin starts one element past an aligned address (unaligned loads). References
  // stay valid while fewer than `Reserve`d twins exist.
  Twin& Make(DType dtype, std::size_t numel) {
    Twin& t = twins_.emplace_back();
    t.dtype = dtype;
    t.numel = numel;
    t.host.resize(numel * (dtype == DType::kFloat32 ? 4 : 2));
    // One spare element so the view can start at an odd address.
    EXPECT_EQ(cudaMalloc(&t.base, t.host.size() + 4), cudaSuccess);
    const std::size_t shift = twins_.size() % 3 == 0 ? (dtype == DType::kFloat32 ? 4 : 2) : 0;
    t.device = static_cast<std::byte*>(t.base) + shift;
    return t;
  }
  void Reserve(std::size_t n) { twins_.reserve(n); }

  std::vector<Twin> twins_;
};

}  // namespace train::gpu_testing

#endif  // TRAIN_TESTS_GPU_TWIN_H_
