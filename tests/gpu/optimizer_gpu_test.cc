// The CUDA FusedOptimizer against the CPU one: every kind (LAMB too) and dtype, odd and empty
// sizes, more tensors than one launch holds, 20 steps, several groups, inf/nan skips and
// capturable steps. Skips itself without a GPU.
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
#include "twin.h"

namespace train {
namespace {

using gpu_testing::Twin;
using OptimizerGpuTest = gpu_testing::TwinTest;

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
  for (OptimizerKind kind : {OptimizerKind::kAdamW, OptimizerKind::kAdam, OptimizerKind::kSgd,
                             OptimizerKind::kLion, OptimizerKind::kLamb}) {
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
  for (int i = 0; i < 70; ++i) sizes.push_back(100 + 7 * i);
  for (const Case& c : cases) {
    SCOPED_TRACE(Name(c));
    Clear();
    Reserve(2 * sizes.size());
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
      cpu_group.params.push_back(p.HostView());
      cpu_group.grads.push_back(g.HostView());
      gpu_group.params.push_back(p.DeviceView());
      gpu_group.grads.push_back(g.DeviceView());
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
      Clear();
      Reserve(2);  // p and g stay valid
      Twin& p = Make(DType::kFloat32, 1000);
      Twin& g = Make(DType::kFloat32, 1000);
      for (std::size_t i = 0; i < 1000; ++i) p.Set(i, 1.0f), g.Set(i, 0.5f);
      p.Upload();
      g.Upload();
      ParamGroup group;
      group.params.push_back(p.DeviceView());
      group.grads.push_back(g.DeviceView());
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

// LAMB's trust ratio is per tensor: tensors of several groups (their own lr, decay and betas)
// in one launch, one spanning many chunks, one whose parameters are all 0 (ratio 1).
TEST_F(OptimizerGpuTest, LambTrustRatiosPerTensorAcrossGroupsMatchTheCpuPath) {
  struct Spec {
    int group;
    std::size_t numel;
    bool zero;
  };
  const std::vector<Spec> specs = {{0, 5000, false}, {1, 17, false},    {0, 300001, false},
                                   {0, 0, false},    {1, 70001, false}, {0, 2048, true},
                                   {1, 1, false},    {1, 131072, false}};
  Reserve(2 * specs.size());
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  ParamGroup cpu[2], gpu[2];
  cpu[0].lr = gpu[0].lr = 1e-2;
  cpu[0].weight_decay = gpu[0].weight_decay = 0.1;
  cpu[1].lr = gpu[1].lr = 3e-3;
  cpu[1].beta1 = gpu[1].beta1 = 0.8;
  cpu[1].beta2 = gpu[1].beta2 = 0.99;
  std::vector<std::size_t> grads;
  for (const Spec& spec : specs) {
    Twin& p = Make(DType::kFloat32, spec.numel);
    for (std::size_t i = 0; i < spec.numel; ++i) p.Set(i, spec.zero ? 0.0f : dist(rng));
    p.Upload();
    cpu[spec.group].params.push_back(p.HostView());
    gpu[spec.group].params.push_back(p.DeviceView());
    grads.push_back(twins_.size());
    Twin& g = Make(DType::kFloat32, spec.numel);
    cpu[spec.group].grads.push_back(g.HostView());
    gpu[spec.group].grads.push_back(g.DeviceView());
  }
  OptimizerOptions options;
  options.kind = OptimizerKind::kLamb;
  options.schedule = {LrSchedule::Kind::kCosine, 2, 12, 0.1};
  auto a = FusedOptimizer::Create(options, {cpu[0], cpu[1]});
  auto b = FusedOptimizer::Create(options, {gpu[0], gpu[1]});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  for (int step = 0; step < 10; ++step) {
    for (std::size_t k : grads) {
      Twin& g = twins_[k];
      for (std::size_t i = 0; i < g.numel; ++i) g.Set(i, dist(rng));
      g.Upload();
    }
    const auto ra = (*a)->Step(8.0f);
    const auto rb = (*b)->Step(8.0f);
    ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status() << " " << rb.status();
    EXPECT_NEAR(ra->grad_norm, rb->grad_norm, 1e-6 * (1 + ra->grad_norm));
    EXPECT_NEAR(ra->lr_factor, rb->lr_factor, 1e-12);
  }
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const Twin& p = twins_[grads[k] - 1];
    const std::vector<std::byte> device = p.Download();
    std::size_t moved = 0;
    for (std::size_t i = 0; i < p.numel; ++i) {
      const float want = p.Get(p.host, i), got = p.Get(device, i);
      ASSERT_NEAR(got, want, 1e-5f * (1 + std::fabs(want))) << "tensor " << k << " element " << i;
      moved += want != 0.0f ? 1 : 0;
    }
    // The all-zero tensor moved too: its ratio is 1, not 0 or nan.
    if (specs[k].zero) {
      EXPECT_GT(moved, 0u);
    }
  }
}

}  // namespace
}  // namespace train
