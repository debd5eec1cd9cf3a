// FusedOptimizer on kCuda tensors on any machine: without CUDA compiled in, or without a
// driver or GPU, Create returns an error that says what is missing instead of crashing.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "train/device.h"
#include "train/optimizer.h"
#include "train/status.h"
#include "train/version.h"

namespace train {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(OptimizerCudaStatusTest, CreateOnCudaTensorsWorksOrSaysWhatIsMissing) {
  if (ListCudaDevices().ok()) GTEST_SKIP() << "a GPU is usable here: optimizer_gpu_test covers it";
  static float fake[4];  // never dereferenced: Create fails before touching the device
  ParamGroup group;
  group.params.push_back({fake, DType::kFloat32, 4, Device::kCuda, 0});
  group.grads.push_back({fake, DType::kFloat32, 4, Device::kCuda, 0});
  const auto created = FusedOptimizer::Create(OptimizerOptions{}, {group});
  ASSERT_FALSE(created.ok());
  const Status& status = created.status();
  if (!BuiltWithCuda()) {
    EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
    EXPECT_TRUE(Contains(status.message(), "without CUDA")) << status;
    return;
  }
  // CUDA compiled in, no driver: UNAVAILABLE naming the CUDA error and what to check.
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  EXPECT_TRUE(Contains(status.message(), "cudaGetDeviceCount")) << status;
  EXPECT_TRUE(Contains(status.message(), "driver")) << status;
}

TEST(OptimizerCudaStatusTest, CpuLastStepResultReportsTheLastStep) {
  std::vector<float> p(5, 1.0f), g(5, 0.5f);
  ParamGroup group;
  group.params.push_back({p.data(), DType::kFloat32, p.size(), Device::kCpu, 0});
  group.grads.push_back({g.data(), DType::kFloat32, g.size(), Device::kCpu, 0});
  auto created = FusedOptimizer::Create(OptimizerOptions{}, {group});
  ASSERT_TRUE(created.ok()) << created.status();
  FusedOptimizer& opt = **created;
  EXPECT_EQ(opt.LastStepResult().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(opt.Step(2.0f).ok());
  const auto last = opt.LastStepResult();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_FALSE(last->skipped);
  EXPECT_NEAR(last->grad_norm, 0.25 * std::sqrt(5.0), 1e-6);
  g[2] = std::numeric_limits<float>::infinity();
  ASSERT_TRUE(opt.Step(2.0f).ok());
  EXPECT_TRUE(opt.LastStepResult()->skipped);
}

}  // namespace
}  // namespace train
