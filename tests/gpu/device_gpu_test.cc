// On a machine with NVIDIA GPUs: every visible device is described and runs this build's
// device code. Without a GPU (or in a build without CUDA) the tests skip, saying why.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "train/device.h"
#include "train/status.h"

namespace train {
namespace {

class CudaDevicesTest : public ::testing::Test {
 protected:
  // Nothing here can be checked without a GPU; device_status_test checks that the reason
  // given then is a clear one.
  void SetUp() override {
    Result<std::vector<CudaDevice>> listed = ListCudaDevices();
    if (!listed.ok() && (listed.status().code() == StatusCode::kUnavailable ||
                         listed.status().code() == StatusCode::kFailedPrecondition)) {
      GTEST_SKIP() << listed.status();
    }
    ASSERT_TRUE(listed.ok()) << listed.status();
    devices_ = std::move(listed).value();
    ASSERT_FALSE(devices_.empty()) << "ListCudaDevices is OK but returned no device";
  }

  std::vector<CudaDevice> devices_;
};

TEST_F(CudaDevicesTest, EveryDeviceHasNameMemoryAndSupportedArchitecture) {
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    const CudaDevice& device = devices_[i];
    SCOPED_TRACE("device " + std::to_string(i) + " (" + device.name + ")");
    EXPECT_EQ(device.index, static_cast<int>(i));
    EXPECT_FALSE(device.name.empty());
    EXPECT_GT(device.total_bytes, 0u);
    // nvcc 13 builds for compute capability 7.5 and newer: older devices cannot run our code.
    EXPECT_GE(device.compute_major * 10 + device.compute_minor, 75)
        << "compute capability " << device.compute_major << "." << device.compute_minor;
  }
}

TEST_F(CudaDevicesTest, SelfTestPassesOnEveryDevice) {
  for (const CudaDevice& device : devices_) {
    const Status status = CudaSelfTest(device.index);
    EXPECT_TRUE(status.ok()) << "device " << device.index << " (" << device.name << "): " << status;
  }
}

TEST_F(CudaDevicesTest, SelfTestRejectsDevicesThatDoNotExist) {
  const int count = static_cast<int>(devices_.size());
  for (int device : {-1, count}) {
    const Status status = CudaSelfTest(device);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << "device " << device << ": " << status;
    // The error names the index asked for, so a wrong CUDA_VISIBLE_DEVICES is easy to spot.
    EXPECT_NE(status.message().find(std::to_string(device)), std::string::npos) << status;
  }
}

}  // namespace
}  // namespace train
