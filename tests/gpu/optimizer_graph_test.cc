// A capturable CUDA FusedOptimizer on the caller's stream: after one warm-up step, one Step is
// captured in a CUDA graph, and replaying the graph N times gives the same bits as N eager
// steps (parameters, master weights, moments, step counter), with fresh gradients before each
// step, a schedule that moves, clipping, a loss scale, and an inf gradient skipped on the
// device. Skips itself without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "train/optimizer.h"
#include "twin.h"

namespace train {
namespace {

using gpu_testing::Twin;

struct StreamDestroy {
  void operator()(cudaStream_t s) const noexcept { cudaStreamDestroy(s); }
};
struct GraphDestroy {
  void operator()(cudaGraph_t g) const noexcept { cudaGraphDestroy(g); }
};
struct GraphExecDestroy {
  void operator()(cudaGraphExec_t g) const noexcept { cudaGraphExecDestroy(g); }
};

struct Case {
  OptimizerKind kind;
  DType param;
  bool master;
  DType moment;
};

std::string Name(const Case& c) {
  return "kind " + std::to_string(static_cast<int>(c.kind)) + " param " +
         std::string(DTypeName(c.param)) + (c.master ? " master" : "") + " moment " +
         std::string(DTypeName(c.moment));
}

class OptimizerGraphTest : public gpu_testing::TwinTest {};

TEST_F(OptimizerGraphTest, ReplayedGraphMatchesEagerStepsBitwise) {
  const std::vector<Case> cases = {
      {OptimizerKind::kAdamW, DType::kFloat32, false, DType::kFloat32},
      {OptimizerKind::kAdamW, DType::kBFloat16, true, DType::kFloat32},
      {OptimizerKind::kAdam, DType::kFloat16, true, DType::kBFloat16},
      {OptimizerKind::kSgd, DType::kFloat32, false, DType::kFloat32},
      {OptimizerKind::kLion, DType::kBFloat16, false, DType::kBFloat16},
      {OptimizerKind::kLamb, DType::kFloat32, false, DType::kFloat32},
      {OptimizerKind::kLamb, DType::kBFloat16, true, DType::kFloat32},
  };
  // Odd, chunk-crossing and empty sizes; more tensors than one launch takes.
  std::vector<std::size_t> sizes = {70001, 0, 3, 300000, 4099};
  for (int i = 0; i < 66; ++i) sizes.push_back(50 + 13 * i);
  constexpr int kReplays = 6;
  constexpr int kInfAt = 3;  // this replay's gradients hold an inf: the step is skipped
  for (const Case& c : cases) {
    SCOPED_TRACE(Name(c));
    Clear();
    Reserve(3 * sizes.size());
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    // Two copies of the parameters, one gradient each pair shares.
    ParamGroup eager, graph;
    eager.weight_decay = graph.weight_decay = 0.01;
    eager.momentum = graph.momentum = 0.9;
    std::vector<std::size_t> grads;
    for (std::size_t n : sizes) {
      Twin& a = Make(c.param, n);
      for (std::size_t i = 0; i < n; ++i) a.Set(i, dist(rng));
      a.Upload();
      Twin& b = Make(c.param, n);
      b.host = a.host;
      b.Upload();
      grads.push_back(twins_.size());
      Twin& g = Make(DType::kFloat32, n);
      eager.params.push_back(a.DeviceView());
      graph.params.push_back(b.DeviceView());
      eager.grads.push_back(g.DeviceView());
      graph.grads.push_back(g.DeviceView());
    }
    auto new_gradients = [&](bool with_inf) {
      for (std::size_t k : grads) {
        Twin& g = twins_[k];
        for (std::size_t i = 0; i < g.numel; ++i) g.Set(i, dist(rng));
        if (with_inf && g.numel > 0) g.Set(g.numel / 2, std::numeric_limits<float>::infinity());
        g.Upload();
      }
    };

    // Declared before the optimizer that uses it, so it is destroyed after it.
    cudaStream_t raw = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&raw, cudaStreamNonBlocking), cudaSuccess);
    std::unique_ptr<CUstream_st, StreamDestroy> stream(raw);
    OptimizerOptions options;
    options.kind = c.kind;
    options.master_weights = c.master;
    options.moment_dtype = c.moment;
    options.max_grad_norm = 2.0;
    options.schedule = {LrSchedule::Kind::kCosine, 3, 20, 0.1};
    options.capturable = true;
    auto eager_opt = FusedOptimizer::Create(options, {eager});
    options.cuda_stream = raw;
    auto graph_opt = FusedOptimizer::Create(options, {graph});
    ASSERT_TRUE(eager_opt.ok()) << eager_opt.status();
    ASSERT_TRUE(graph_opt.ok()) << graph_opt.status();
    const float scale = 4.0f;

    // Warm-up: one eager step each.
    new_gradients(false);
    ASSERT_TRUE((*eager_opt)->Step(scale).ok());
    ASSERT_TRUE((*graph_opt)->Step(scale).ok());
    ASSERT_EQ(cudaStreamSynchronize(raw), cudaSuccess);

    // Capture one step. Global mode: any call that could synchronize fails the capture.
    ASSERT_EQ(cudaStreamBeginCapture(raw, cudaStreamCaptureModeGlobal), cudaSuccess);
    const auto captured = (*graph_opt)->Step(scale);
    cudaGraph_t graph_raw = nullptr;
    const cudaError_t end = cudaStreamEndCapture(raw, &graph_raw);
    ASSERT_TRUE(captured.ok()) << captured.status();
    ASSERT_EQ(end, cudaSuccess) << cudaGetErrorString(end);
    std::unique_ptr<CUgraph_st, GraphDestroy> graph_handle(graph_raw);
    cudaGraphExec_t exec_raw = nullptr;
    ASSERT_EQ(cudaGraphInstantiate(&exec_raw, graph_raw, 0), cudaSuccess);
    std::unique_ptr<CUgraphExec_st, GraphExecDestroy> exec(exec_raw);
    // Capturing queued nothing: the graph optimizer has still taken one step.
    const auto after_capture = (*graph_opt)->LastStepResult();
    ASSERT_TRUE(after_capture.ok()) << after_capture.status();
    EXPECT_EQ((*graph_opt)->step(), 1);

    for (int r = 0; r < kReplays; ++r) {
      new_gradients(r == kInfAt);
      ASSERT_EQ(cudaGraphLaunch(exec.get(), raw), cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(raw), cudaSuccess);
      ASSERT_TRUE((*eager_opt)->Step(scale).ok());
      const auto want = (*eager_opt)->LastStepResult();
      const auto got = (*graph_opt)->LastStepResult();
      ASSERT_TRUE(want.ok() && got.ok()) << want.status() << " " << got.status();
      EXPECT_EQ(got->skipped, r == kInfAt) << "replay " << r;
      EXPECT_EQ(got->skipped, want->skipped) << "replay " << r;
      if (!want->skipped) {
        EXPECT_EQ(got->grad_norm, want->grad_norm) << "replay " << r;
        EXPECT_EQ(got->lr_factor, want->lr_factor) << "replay " << r;
      }
    }
    EXPECT_EQ((*eager_opt)->step(), 1 + kReplays - 1);
    EXPECT_EQ((*graph_opt)->step(), (*eager_opt)->step());
    for (std::size_t k = 0; k < grads.size(); ++k) {
      const Twin& a = twins_[grads[k] - 2];
      const Twin& b = twins_[grads[k] - 1];
      EXPECT_EQ(a.Download(), b.Download()) << "parameters of tensor " << k;
    }
    const auto want = (*eager_opt)->ExportState();
    const auto got = (*graph_opt)->ExportState();
    ASSERT_TRUE(want.ok() && got.ok()) << want.status() << " " << got.status();
    EXPECT_EQ(got->step, want->step);
    ASSERT_EQ(got->names, want->names);
    for (std::size_t i = 0; i < want->buffers.size(); ++i) {
      EXPECT_EQ(got->buffers[i], want->buffers[i]) << want->names[i];
    }
  }
}

}  // namespace
}  // namespace train
