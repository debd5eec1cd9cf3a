// Checkpoints of CUDA tensors: saved from device memory (sync and async, through pinned
// buffers on a copy stream), loaded back into device memory, bitwise. Skips without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "train/checkpoint.h"

namespace train {
namespace {

class CheckpointGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      GTEST_SKIP() << "no usable CUDA device";
    }
    char dir[] = "/tmp/ckpt-gpu-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(CheckpointGpu, DeviceTensorsRoundTripSyncAndAsync) {
  constexpr std::uint64_t kCount = (1 << 22) + 5;  // 16 MiB of float32 and a tail
  std::vector<float> host(kCount);
  for (std::uint64_t i = 0; i < kCount; ++i) host[i] = static_cast<float>(i) * 0.5f - 3.0f;
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, kCount * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(device, host.data(), kCount * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  for (bool async : {false, true}) {
    SCOPED_TRACE(async ? "async" : "sync");
    CheckpointOptions options;
    options.async = async;
    auto ckpt = Checkpointer::Open(dir_ + (async ? "/async" : "/sync"), nullptr, options);
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    CheckpointState state;
    CheckpointTensor weights;
    weights.name = "weights";
    weights.data = TensorView{device, DType::kFloat32, kCount, Device::kCuda, 0};
    state.tensors.push_back(weights);
    ASSERT_TRUE((*ckpt)->Save(1, state).ok());
    // After Save returns the snapshot is taken: changing the tensor must not change the save.
    ASSERT_EQ(cudaMemset(device, 0, kCount * sizeof(float)), cudaSuccess);
    ASSERT_TRUE((*ckpt)->WaitForSave().ok());
    auto loaded = (*ckpt)->LoadLatest(state);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    std::vector<float> back(kCount);
    ASSERT_EQ(cudaMemcpy(back.data(), device, kCount * sizeof(float), cudaMemcpyDeviceToHost),
              cudaSuccess);
    EXPECT_EQ(std::memcmp(back.data(), host.data(), kCount * sizeof(float)), 0);
  }
  cudaFree(device);
}

}  // namespace
}  // namespace train
