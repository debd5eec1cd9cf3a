// On any machine: the NCCL plugin is found beside libtrain.so in the build tree, a plugin
// directory without it gives an error naming where it looked, and creating an NCCL
// communicator without a usable GPU is refused at once with what to do about it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/backends.h"
#include "train/communicator.h"
#include "train/device.h"
#include "train/store.h"

namespace train {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Points TRAIN_PLUGIN_DIR at a fresh empty directory for the life of the object.
class EmptyPluginDir {
 public:
  EmptyPluginDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "plugins-XXXXXX").string();
    TRAIN_CHECK(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
    TRAIN_CHECK(setenv("TRAIN_PLUGIN_DIR", path_.c_str(), 1) == 0);
  }
  ~EmptyPluginDir() {
    unsetenv("TRAIN_PLUGIN_DIR");
    std::filesystem::remove(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(NcclPluginTest, TheLoaderFindsThePluginBesideLibtrain) {
  auto factory = internal::LoadBackendPlugin("nccl");
  ASSERT_TRUE(factory.ok()) << factory.status();
  EXPECT_NE(*factory, nullptr);
  // Loaded once: a second call gives the same factory.
  auto again = internal::LoadBackendPlugin("nccl");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *factory);
}

TEST(NcclPluginTest, AnEmptyPluginDirectoryIsNamedWithTheReason) {
  EmptyPluginDir dir;
  auto factory = internal::LoadBackendPlugin("nccl");
  ASSERT_FALSE(factory.ok());
  const Status& status = factory.status();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(Contains(status.message(), dir.path() + "/libtrain-nccl.so")) << status;
  EXPECT_TRUE(Contains(status.message(), "TRAIN_PLUGIN_DIR")) << status;
  EXPECT_TRUE(Contains(status.message(), "CUDA")) << status;  // why it may be absent
}

TEST(NcclPluginTest, AnUnknownBackendNamesTheFileItLookedFor) {
  auto factory = internal::LoadBackendPlugin("nosuch");
  ASSERT_FALSE(factory.ok());
  EXPECT_TRUE(Contains(factory.status().message(), "libtrain-nosuch.so")) << factory.status();
}

// Without a GPU (this machine) device 0 is asked for; with GPUs, one index past the last.
TEST(NcclPluginTest, NoUsableGpuIsAFailedPreconditionAtCreate) {
  const Result<std::vector<CudaDevice>> devices = ListCudaDevices();
  const int device_index = devices.ok() ? static_cast<int>(devices->size()) : 0;
  std::unique_ptr<Store> store = NewInMemoryStore();
  CommunicatorOptions options;
  options.backend = CommBackend::kNccl;
  options.device = Device::kCuda;
  options.device_index = device_index;
  auto created = Communicator::Create(store.get(), 0, 1, options);
  ASSERT_FALSE(created.ok());
  const Status& status = created.status();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(Contains(status.message(), "NCCL")) << status;
  if (devices.ok()) {
    EXPECT_TRUE(Contains(status.message(), "CUDA device " + std::to_string(device_index)))
        << status;
  } else {
    EXPECT_TRUE(Contains(status.message(), "cudaGetDeviceCount")) << status;
    EXPECT_TRUE(Contains(status.message(), "CPU backend")) << status;  // what to do instead
  }
}

}  // namespace
}  // namespace train
