// The CUDA FusedOptimizer against the CPU one: every kind and dtype, odd and empty sizes, more
// tensors than one launch holds, 20 steps, inf/nan skips and capturable steps. Skips itself
// without a GPU.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "train/optimizer.h"

namespace train {
namespace {

float ToFloat(std::uint16_t h, DType d) {
  if (d == DType::kFloat16) return __half2float(__ushort_as_half(h));
  const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t FromFloat(float f, DType d) {  // exact for the values the test makes
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
  void Upload() const {
    if (!host.empty()) {
      ASSERT_EQ(cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice), cudaSuccess);
    }
  }
  std::vector<std::byte> Download() const {
    std::vector<std::byte> out(host.size());
    if (!out.empty()) {
      EXPECT_EQ(cudaMemcpy(out.data(), device, out.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return out;
  }
};

class OptimizerGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      GTEST_SKIP() << "no usable CUDA device";
    }
  }
  void TearDown() override {
    for (Twin& t : twins_) cudaFree(t.base);
  }

  Twin& Make(DType dtype, std::size_t numel) {
    Twin& t = twins_.emplace_back();
    t.dtype = dtype;
    t.numel = numel;
    t.host.resize(numel * (dtype == DType::kFloat32 ? 4 : 2));
    // One spare element so the view can start at an odd address (unaligned loads).
    EXPECT_EQ(cudaMalloc(&t.base, t.host.size() + 4), cudaSuccess);
    const std::size_t shift = twins_.size() % 3 == 0 ? (dtype == DType::kFloat32 ? 4 : 2) : 0;
    t.device = static_cast<std::byte*>(t.base) + shift;
    return t;
  }

  std::vector<Twin> twins_;
};

struct Case {
  OptimizerKind kind;
  DType param, grad, moment;
  bool master;
};

std::string Name(const Case& c) {
  return "kind " + std::to_string(static_cast<int>(c.kind)) + " param " +
         std::string(DTypeName(c.param)) + " grad " + std::string(DTypeName(c.grad)) + " moment " +
         std::string(DTypeName(c.moment)) + (c.master ? " master" : "");
}

TEST_F(OptimizerGpuTest, MatchesTheCpuPathForEveryKindAndDtype) {
  std::vector<Case> cases;
  for (OptimizerKind kind :
       {OptimizerKind::kAdamW, OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kLion}) {
    for (DType param : {DType::kFloat32, DType::kBFloat16, DType::kFloat16}) {
      for (DType moment : {DType::kFloat32, DType::kBFloat16}) {
        for (bool master : {false, true}) {
          if (param == DType::kFloat32 && master) continue;
          cases.push_back({kind, param, DType::kFloat32, moment, master});
          if (param != DType::kFloat32) cases.push_back({kind, param, param, moment, master});
        }
      }
    }
  }
  // Empty, odd, chunk-crossing sizes, and more tensors than one launch takes.
  std::vector<std::size_t> sizes = {0, 1, 3, 17, 4099, 70001, 131072};
  for (int i = 0; i < 30; ++i) sizes.push_back(100 + 7 * i);
  for (const Case& c : cases) {
    SCOPED_TRACE(Name(c));
    for (Twin& t : twins_) cudaFree(t.base);
    twins_.clear();
    twins_.reserve(2 * sizes.size());
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    ParamGroup cpu_group, gpu_group;
    cpu_group.weight_decay = gpu_group.weight_decay = 0.01;
    cpu_group.momentum = gpu_group.momentum = 0.9;
    cpu_group.nesterov = gpu_group.nesterov = true;
    std::vector<std::size_t> params;
    for (std::size_t n : sizes) {
      params.push_back(twins_.size());
      Twin& p = Make(c.param, n);
      for (std::size_t i = 0; i < n; ++i) p.Set(i, dist(rng));
      Make(c.grad, n);
    }
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      Twin& p = twins_[params[k]];
      Twin& g = twins_[params[k] + 1];
      cpu_group.params.push_back({p.host.data(), p.dtype, p.numel, Device::kCpu, 0});
      cpu_group.grads.push_back({g.host.data(), g.dtype, g.numel, Device::kCpu, 0});
      gpu_group.params.push_back({p.device, p.dtype, p.numel, Device::kCuda, 0});
      gpu_group.grads.push_back({g.device, g.dtype, g.numel, Device::kCuda, 0});
      p.Upload();
    }
    OptimizerOptions options;
    options.kind = c.kind;
    options.moment_dtype = c.moment;
    options.master_weights = c.master;
    options.max_grad_norm = 5.0;
    options.schedule.kind = LrSchedule::Kind::kLinearWarmup;
    options.schedule.warmup_steps = 5;
    auto cpu = FusedOptimizer::Create(options, {cpu_group});
    auto gpu = FusedOptimizer::Create(options, {gpu_group});
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    for (int step = 0; step < 20; ++step) {
      for (std::size_t k = 0; k < sizes.size(); ++k) {
        Twin& g = twins_[params[k] + 1];
        for (std::size_t i = 0; i < g.numel; ++i) g.Set(i, dist(rng));
        g.Upload();
      }
      const auto a = (*cpu)->Step(step % 2 == 0 ? 1.0f : 4.0f);
      const auto b = (*gpu)->Step(step % 2 == 0 ? 1.0f : 4.0f);
      ASSERT_TRUE(a.ok() && b.ok()) << a.status() << " " << b.status();
      EXPECT_NEAR(a->grad_norm, b->grad_norm, 1e-6 * (1 + a->grad_norm));
      EXPECT_EQ(a->lr_factor, b->lr_factor);
    }
    EXPECT_EQ((*gpu)->step(), 20);
    const float tol = c.param == DType::kFloat32 ? 1e-5f : 1e-2f;
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      const Twin& p = twins_[params[k]];
      const std::vector<std::byte> device = p.Download();
      for (std::size_t i = 0; i < p.numel; ++i) {
        const float want = p.Get(p.host, i), got = p.Get(device, i);
        ASSERT_NEAR(got, want, tol * (1 + std::fabs(want))) << "tensor " << k << " element " << i;
      }
    }
    const auto cpu_state = (*cpu)->ExportState();
    const auto gpu_state = (*gpu)->ExportState();
    ASSERT_TRUE(cpu_state.ok() && gpu_state.ok());
    EXPECT_EQ(cpu_state->names, gpu_state->names);
    EXPECT_EQ(gpu_state->step, 20);
  }
}

TEST_F(OptimizerGpuTest, InfOrNanGradientSkipsTheStepAndCapturableReportsLater) {
  for (bool capturable : {false, true}) {
    for (float bad : {std::numeric_limits<float>::infinity(), std::nanf("")}) {
      for (Twin& t : twins_) cudaFree(t.base);
      twins_.clear();
      twins_.reserve(2);  // p and g stay valid
      Twin& p = Make(DType::kFloat32, 1000);
      Twin& g = Make(DType::kFloat32, 1000);
      for (std::size_t i = 0; i < 1000; ++i) p.Set(i, 1.0f), g.Set(i, 0.5f);
      p.Upload();
      g.Upload();
      ParamGroup group;
      group.params.push_back({p.device, p.dtype, p.numel, Device::kCuda, 0});
      group.grads.push_back({g.device, g.dtype, g.numel, Device::kCuda, 0});
      OptimizerOptions options;
      options.capturable = capturable;
      options.max_grad_norm = 1.0;
      auto opt = FusedOptimizer::Create(options, {group});
      ASSERT_TRUE(opt.ok()) << opt.status();
      ASSERT_TRUE((*opt)->Step().ok());
      const std::vector<std::byte> before = p.Download();
      g.Set(999, bad);
      g.Upload();
      const auto result = (*opt)->Step();
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->skipped, !capturable);
      if (capturable) {
        EXPECT_TRUE(std::isnan(result->grad_norm));
      }
      const auto last = (*opt)->LastStepResult();
      ASSERT_TRUE(last.ok()) << last.status();
      EXPECT_TRUE(last->skipped);
      EXPECT_EQ((*opt)->step(), 1);
      EXPECT_EQ(p.Download(), before) << "a skipped step changed the parameters";
    }
  }
}

}  // namespace
}  // namespace train
