// Device discovery on any machine: with or without CUDA compiled in, with or without a driver
// or a GPU, ListCudaDevices never crashes, and a failure says what is missing and what to do.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "train/device.h"
#include "train/status.h"
#include "train/version.h"

namespace train {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(DeviceStatusTest, ListingDevicesGivesDevicesOrAnActionableError) {
  const Result<std::vector<CudaDevice>> listed = ListCudaDevices();
  if (listed.ok()) {
    for (const CudaDevice& device : *listed) {
      EXPECT_FALSE(device.name.empty()) << "device " << device.index;
      EXPECT_GT(device.total_bytes, 0u) << "device " << device.index;
    }
    return;
  }
  const Status& status = listed.status();
  if (!BuiltWithCuda()) {
    // The fix is a rebuild, so the message names the build option.
    EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
    EXPECT_TRUE(Contains(status.message(), "TRAIN_WITH_CUDA")) << status;
    return;
  }
  // CUDA compiled in but no usable driver or device: the message names what to check.
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  EXPECT_TRUE(Contains(status.message(), "driver")) << status;
  EXPECT_TRUE(Contains(status.message(), "nvidia-smi")) << status;
  EXPECT_TRUE(Contains(status.message(), "CUDA_VISIBLE_DEVICES")) << status;
}

TEST(DeviceStatusTest, SelfTestOfAMissingDeviceSaysWhatIsMissing) {
  const Result<std::vector<CudaDevice>> listed = ListCudaDevices();
  if (listed.ok()) {
    // Indexes outside [0, count) are refused before any kernel runs.
    const int count = static_cast<int>(listed->size());
    for (int device : {-1, count}) {
      const Status status = CudaSelfTest(device);
      EXPECT_EQ(status.code(), StatusCode::kInvalidArgument)
          << "device " << device << ": " << status;
    }
    return;
  }
  // Without a driver or a CUDA build, that is the problem whatever index is asked for.
  for (int device : {-1, 0, 1}) {
    const Status status = CudaSelfTest(device);
    EXPECT_EQ(status.code(), listed.status().code()) << "device " << device << ": " << status;
    EXPECT_EQ(status.message(), listed.status().message()) << "device " << device;
  }
}

TEST(DeviceStatusTest, BuildFlagMatchesWhatDiscoveryReports) {
  const Result<std::vector<CudaDevice>> listed = ListCudaDevices();
  // Only a build without CUDA may answer FAILED_PRECONDITION, and it must always do so.
  EXPECT_EQ(!listed.ok() && listed.status().code() == StatusCode::kFailedPrecondition,
            !BuiltWithCuda())
      << listed.status();
}

}  // namespace
}  // namespace train
