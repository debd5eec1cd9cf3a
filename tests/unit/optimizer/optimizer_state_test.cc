// Skipped steps, checkpoints, thread-count independence and the errors of Create.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "harness.h"

namespace train::testing {
namespace {

RunSetup Adam(int threads) {
  RunSetup setup;
  setup.options.kind = OptimizerKind::kAdamW;
  setup.options.num_threads = threads;
  setup.options.max_grad_norm = 5.0;
  return setup;
}

TEST(SkipTest, InfOrNanGradientSkipsTheStepAndTouchesNothing) {
  for (double bad : {std::numeric_limits<double>::infinity(), std::nan("")}) {
    RunSetup setup = Adam(2);
    setup.grad_scale = 4.0f;
    Harness h(setup);
    auto opt = h.Create();
    ASSERT_NE(opt, nullptr);
    h.FillGrads(1);
    ASSERT_TRUE(opt->Step(setup.grad_scale).ok());
    auto state = opt->ExportState();
    ASSERT_TRUE(state.ok());
    const std::vector<float> params = h.params()[4].f;
    h.FillGrads(2);
    h.grads()[4].f[12345] = static_cast<float>(bad);
    auto result = opt->Step(setup.grad_scale);
    ASSERT_TRUE(result.ok());
    EXPECT_TRUE(result->skipped);
    EXPECT_EQ(opt->step(), 1);
    EXPECT_EQ(h.params()[4].f, params);
    auto after = opt->ExportState();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->buffers, state->buffers);
  }
}

// Runs steps [from, to] and returns every parameter's float32 values.
void RunSteps(Harness& h, FusedOptimizer& opt, int from, int to) {
  for (int t = from; t <= to; ++t) {
    h.FillGrads(t);
    ASSERT_TRUE(opt.Step().ok());
  }
}

TEST(StateTest, ExportImportContinuesBitwiseLikeAnUninterruptedRun) {
  for (OptimizerKind kind : {OptimizerKind::kAdamW, OptimizerKind::kSgd, OptimizerKind::kLamb}) {
    RunSetup setup = Adam(2);
    setup.options.kind = kind;
    setup.options.master_weights = true;
    setup.param_dtype = DType::kBFloat16;
    Harness straight(setup), resumed(setup);
    auto a = straight.Create();
    auto b = resumed.Create();
    RunSteps(straight, *a, 1, 20);
    RunSteps(resumed, *b, 1, 10);
    auto state = b->ExportState();
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(state->names.front(), "group0/param0/master");
    b.reset();
    auto c = resumed.Create();  // fresh state, then the checkpoint
    ASSERT_TRUE(c->ImportState(*state).ok());
    EXPECT_EQ(c->step(), 10);
    RunSteps(resumed, *c, 11, 20);
    for (std::size_t i = 0; i < straight.params().size(); ++i) {
      EXPECT_EQ(straight.params()[i].h, resumed.params()[i].h) << "tensor " << i;
    }
  }
}

TEST(StateTest, ImportRejectsOtherNamesAndSizes) {
  Harness h(Adam(1));
  auto opt = h.Create();
  auto state = opt->ExportState();
  ASSERT_TRUE(state.ok());
  OptimizerState renamed = *state;
  renamed.names[1] = "group0/param0/momentum_buffer";
  Status s = opt->ImportState(renamed);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("momentum_buffer"), std::string::npos) << s;
  OptimizerState resized = *state;
  resized.buffers[3].resize(resized.buffers[3].size() + 4);
  s = opt->ImportState(resized);
  EXPECT_NE(s.message().find(state->names[3]), std::string::npos) << s;
}

TEST(ThreadsTest, ResultIsBitwiseIndependentOfThreadCount) {
  for (OptimizerKind kind : {OptimizerKind::kAdamW, OptimizerKind::kLion, OptimizerKind::kLamb}) {
    RunSetup one = Adam(1), three = Adam(3);
    one.options.kind = three.options.kind = kind;
    Harness h1(one), h3(three);
    auto a = h1.Create();
    auto b = h3.Create();
    RunSteps(h1, *a, 1, 8);
    RunSteps(h3, *b, 1, 8);
    for (std::size_t i = 0; i < h1.params().size(); ++i) {
      EXPECT_EQ(h1.params()[i].f, h3.params()[i].f) << "tensor " << i;
    }
  }
}

// Create's error for `groups`, which must mention every word of `expected`.
void ExpectError(std::vector<ParamGroup> groups, StatusCode code,
                 std::vector<std::string> expected) {
  auto opt = FusedOptimizer::Create(OptimizerOptions{}, std::move(groups));
  ASSERT_FALSE(opt.ok());
  EXPECT_EQ(opt.status().code(), code) << opt.status();
  for (const std::string& word : expected) {
    EXPECT_NE(opt.status().message().find(word), std::string::npos) << opt.status();
  }
}

TEST(CreateTest, ErrorsNameTheGroupIndexAndMismatch) {
  std::vector<float> p(8), g(8);
  std::vector<std::uint16_t> h(8);
  const TensorView param{p.data(), DType::kFloat32, 8, Device::kCpu, 0};
  const TensorView grad{g.data(), DType::kFloat32, 8, Device::kCpu, 0};
  ParamGroup ok;
  ok.params = {param};
  ok.grads = {grad};
  ParamGroup bad = ok;
  bad.grads.clear();
  ExpectError({ok, bad}, StatusCode::kInvalidArgument, {"group 1", "1 params but 0 grads"});
  bad = ok;
  bad.grads[0].numel = 7;
  ExpectError({ok, bad}, StatusCode::kInvalidArgument, {"group 1, grad 0", "numel 7", "8"});
  bad = ok;
  bad.params[0].dtype = DType::kInt32;
  ExpectError({bad}, StatusCode::kInvalidArgument, {"group 0, param 0", "int32"});
  bad = ok;
  bad.params[0] = {h.data(), DType::kBFloat16, 8, Device::kCpu, 0};
  bad.grads[0] = {h.data(), DType::kFloat16, 8, Device::kCpu, 0};
  ExpectError({bad}, StatusCode::kInvalidArgument, {"grad 0", "float16", "bfloat16"});
  bad = ok;
  bad.grads[0].device = Device::kCuda;
  ExpectError({bad}, StatusCode::kInvalidArgument, {"grad 0", "cuda:0", "cpu", "one device"});
  ExpectError({}, StatusCode::kInvalidArgument, {"no parameters"});
}

}  // namespace
}  // namespace train::testing
