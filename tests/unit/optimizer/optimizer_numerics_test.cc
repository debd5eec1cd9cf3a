// The fused optimizers side by side with the float64 reference over many steps, for every
// kind and dtype combination, with loss scaling, clipping and schedules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "harness.h"
#include "reference.h"

namespace train::testing {
namespace {

constexpr int kSteps = 60;

struct Tolerance {
  double rtol;  // of the reference value (storage rounding)
  double dtol;  // of the tensor's largest displacement from its start (update arithmetic)
};

// Runs `steps` steps of both and returns the largest error as a fraction of its bound.
double RunSideBySide(const RunSetup& setup, Tolerance tol, int steps = kSteps) {
  Harness h(setup);
  const OptimizerKind kind = setup.options.kind;
  // Lion's sign() flips where float32 and float64 disagree about a near-zero interpolation:
  // each flip moves an element by 2 lr, about 3% of 60 steps' displacement. Allow two.
  // bfloat16 moments shift more of them: allow three.
  if (kind == OptimizerKind::kLion) {
    const bool bf16_moments = setup.options.moment_dtype == DType::kBFloat16;
    tol.dtol = std::max(tol.dtol, bf16_moments ? 0.1 : 0.07);
  }
  Reference ref(kind, h.groups(), setup.options.max_grad_norm);
  ref.tensors().resize(2);
  std::vector<std::vector<double>> start;
  for (std::size_t i = 0; i < h.params().size(); ++i) {
    ReferenceTensor t;
    for (std::size_t e = 0; e < h.params()[i].size(); ++e) t.p.push_back(h.params()[i].Get(e));
    t.m.assign(t.p.size(), 0.0);
    t.v.assign(t.p.size(), 0.0);
    start.push_back(t.p);
    ref.tensors()[h.group_of(i)].push_back(t);
  }
  auto opt = h.Create();
  EXPECT_NE(opt, nullptr);
  if (opt == nullptr) return 1e9;
  for (int t = 1; t <= steps; ++t) {
    h.FillGrads(t);
    std::vector<std::vector<std::vector<double>>> grads(2);
    for (std::size_t i = 0; i < h.grads().size(); ++i) {
      std::vector<double> g;
      for (std::size_t e = 0; e < h.grads()[i].size(); ++e) {
        g.push_back(h.grads()[i].Get(e) / setup.grad_scale);
      }
      grads[h.group_of(i)].push_back(std::move(g));
    }
    const double factor = ReferenceLrFactor(setup.options.schedule, t);
    EXPECT_TRUE(ref.Step(grads, factor, true));
    auto result = opt->Step(setup.grad_scale);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return 1e9;
    EXPECT_FALSE(result->skipped);
    EXPECT_NEAR(result->lr_factor, factor, 1e-12);
  }
  EXPECT_EQ(opt->step(), steps);
  double worst = 0;
  std::size_t next[2] = {0, 0};
  for (std::size_t i = 0; i < h.params().size(); ++i) {
    const std::vector<double>& expected = ref.tensors()[h.group_of(i)][next[h.group_of(i)]++].p;
    double displacement = 0;
    for (std::size_t e = 0; e < expected.size(); ++e) {
      displacement = std::max(displacement, std::abs(expected[e] - start[i][e]));
    }
    for (std::size_t e = 0; e < expected.size(); ++e) {
      const double err = std::abs(h.params()[i].Get(e) - expected[e]);
      const double bound = tol.rtol * std::abs(expected[e]) + tol.dtol * displacement + 1e-12;
      worst = std::max(worst, err / bound);
    }
  }
  return worst;
}

struct Case {
  const char* name;
  DType param, grad, moment;
  bool master;
  Tolerance tol;
};

// float32: rounding of p each step; 16-bit params: the final rounding; bf16 moments: their
// 8-bit mantissa in every update.
const Case kCases[] = {
    {"fp32", DType::kFloat32, DType::kFloat32, DType::kFloat32, false, {1e-6, 1e-4}},
    {"bf16_master", DType::kBFloat16, DType::kFloat32, DType::kFloat32, true, {4e-3, 1e-3}},
    {"bf16_master_bf16_grads",
     DType::kBFloat16,
     DType::kBFloat16,
     DType::kFloat32,
     true,
     {4e-3, 1e-3}},
    {"fp16_master", DType::kFloat16, DType::kFloat16, DType::kFloat32, true, {5e-4, 1e-3}},
    {"fp32_bf16_moments", DType::kFloat32, DType::kFloat32, DType::kBFloat16, false, {1e-6, 2e-2}},
};

const OptimizerKind kKinds[] = {OptimizerKind::kAdamW, OptimizerKind::kAdam, OptimizerKind::kSgd,
                                OptimizerKind::kLion, OptimizerKind::kLamb};

std::string KindName(OptimizerKind kind) {
  const char* names[] = {"AdamW", "Adam", "Sgd", "Lion", "Lamb"};
  return names[static_cast<int>(kind)];
}

class NumericsTest : public ::testing::TestWithParam<std::tuple<OptimizerKind, Case>> {};

TEST_P(NumericsTest, MatchesFloat64ReferenceOver60Steps) {
  const auto& [kind, c] = GetParam();
  RunSetup setup;
  setup.options.kind = kind;
  setup.options.moment_dtype = c.moment;
  setup.options.master_weights = c.master;
  setup.options.num_threads = 2;
  setup.param_dtype = c.param;
  setup.grad_dtype = c.grad;
  EXPECT_LE(RunSideBySide(setup, c.tol), 1.0);
}

INSTANTIATE_TEST_SUITE_P(AllKindsAndDTypes, NumericsTest,
                         ::testing::Combine(::testing::ValuesIn(kKinds),
                                            ::testing::ValuesIn(kCases)),
                         [](const auto& param_info) {
                           return KindName(std::get<0>(param_info.param)) + "_" +
                                  std::get<1>(param_info.param).name;
                         });

class ScalingTest : public ::testing::TestWithParam<OptimizerKind> {};

TEST_P(ScalingTest, UnscalesTheLossScale) {
  RunSetup setup;
  setup.options.kind = GetParam();
  setup.grad_scale = 1024.0f;
  EXPECT_LE(RunSideBySide(setup, {1e-6, 1e-4}), 1.0);
}

TEST_P(ScalingTest, ClipsTheGlobalNormLikeTheReference) {
  RunSetup setup;
  setup.options.kind = GetParam();
  setup.options.max_grad_norm = 10.0;  // the gradients' norm is in the hundreds: always clips
  setup.grad_scale = 8.0f;
  EXPECT_LE(RunSideBySide(setup, {1e-6, 1e-4}), 1.0);
}

TEST_P(ScalingTest, FollowsWarmupAndCosineSchedules) {
  RunSetup setup;
  setup.options.kind = GetParam();
  setup.options.schedule = {LrSchedule::Kind::kLinearWarmup, 10, 0, 0.0};
  EXPECT_LE(RunSideBySide(setup, {1e-6, 1e-4}), 1.0);
  setup.options.schedule = {LrSchedule::Kind::kCosine, 5, 40, 0.1};
  EXPECT_LE(RunSideBySide(setup, {1e-6, 1e-4}), 1.0);
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ScalingTest, ::testing::ValuesIn(kKinds),
                         [](const auto& param_info) { return KindName(param_info.param); });

TEST(ScheduleTest, CosineReachesMinFactorAtTotalSteps) {
  RunSetup setup;
  setup.options.schedule = {LrSchedule::Kind::kCosine, 2, 6, 0.25};
  Harness h(setup);
  auto opt = h.Create();
  ASSERT_NE(opt, nullptr);
  const double expected[] = {0.5, 1.0, 1.0 - 0.75 * 0.5 * (1 - std::cos(M_PI / 4)), 0.625};
  for (double factor : expected) {
    auto r = opt->Step();
    ASSERT_TRUE(r.ok());
    EXPECT_NEAR(r->lr_factor, factor, 1e-12);
  }
  for (int t = 5; t <= 8; ++t) {
    auto r = opt->Step();
    ASSERT_TRUE(r.ok());
    EXPECT_NEAR(r->lr_factor, t >= 6 ? 0.25 : 0.25 + 0.75 * 0.5 * (1 + std::cos(M_PI * 0.75)),
                1e-12);
  }
}

}  // namespace
}  // namespace train::testing
