// GradientBuckets on CUDA gradients through the NCCL backend: buckets in device memory, the
// copies and the 16-bit wire conversion on the device (bitwise the host's rounding), stream
// order between the gradients' kernels, the copies and the all-reduces, and the device checks
// of Register. A world of one rank on one GPU, and of one rank per GPU (threads) where the
// machine has several. Skipped, saying why, without a usable GPU.
#include <cuda_runtime.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "grad_buckets_wire.h"
#include "stream_blocker.h"
#include "train/communicator.h"
#include "train/device.h"
#include "train/grad_buckets.h"
#include "train/store.h"

namespace train {
namespace {

using ::testing::HasSubstr;
using testing::StreamBlocker;

// Blocking copies between host vectors and device memory; nothing to do for no bytes.
void CopyToDevice(void* device, const std::vector<unsigned char>& host) {
  if (host.empty()) return;
  TRAIN_CHECK_EQ(cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice), cudaSuccess);
}
std::vector<unsigned char> CopyToHost(const void* device, std::size_t bytes) {
  std::vector<unsigned char> host(bytes);
  if (bytes > 0) {
    TRAIN_CHECK_EQ(cudaMemcpy(host.data(), device, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  }
  return host;
}

// One gradient in device memory, with the host copy of what it should hold.
class DeviceGradient {
 public:
  DeviceGradient(DType dtype, std::uint64_t count) : dtype_(dtype), count_(count) {
    TRAIN_CHECK_EQ(cudaMalloc(&data_, std::max<std::uint64_t>(bytes(), 1)), cudaSuccess);
  }
  ~DeviceGradient() { (void)cudaFree(data_); }
  DeviceGradient(const DeviceGradient&) = delete;
  DeviceGradient& operator=(const DeviceGradient&) = delete;

  std::uint64_t bytes() const { return count_ * DTypeSize(dtype_); }
  TensorView View(int device) const { return {data_, dtype_, count_, Device::kCuda, device}; }
  void Upload(const std::vector<unsigned char>& host) { CopyToDevice(data_, host); }
  std::vector<unsigned char> Download() const { return CopyToHost(data_, bytes()); }
  void* data() const { return data_; }

 private:
  DType dtype_;
  std::uint64_t count_;
  void* data_ = nullptr;
};

// Values with fractions that 16-bit floats cannot all hold (so rounding shows), small enough
// for float16's range.
std::vector<unsigned char> Values(DType dtype, std::uint64_t count, int seed) {
  std::vector<unsigned char> bytes(count * DTypeSize(dtype));
  for (std::uint64_t i = 0; i < count; ++i) {
    const double k = static_cast<double>((i * 2654435761u + seed * 977u) % 4093) / 37.0 - 50.0;
    unsigned char* at = bytes.data() + i * DTypeSize(dtype);
    auto put = [at](auto value) { std::memcpy(at, &value, sizeof(value)); };
    if (dtype == DType::kFloat32) put(static_cast<float>(k));
    if (dtype == DType::kFloat64) put(k);
    if (dtype == DType::kInt32) put(static_cast<std::int32_t>(i % 1000));
  }
  return bytes;
}

// What a gradient holds after a round trip through a 16-bit wire (a world of one).
std::vector<unsigned char> RoundTrip(DType dtype, const std::vector<unsigned char>& host,
                                     DType wire) {
  const std::uint64_t count = host.size() / DTypeSize(dtype);
  std::vector<std::uint16_t> narrow(count);
  std::vector<unsigned char> out(host.size());
  internal::NarrowToWire(dtype, host.data(), wire, narrow.data(), count);
  internal::WidenFromWire(wire, narrow.data(), dtype, out.data(), count);
  return out;
}

CommunicatorOptions NcclOptions(int device, const std::string& name) {
  CommunicatorOptions options;
  options.backend = CommBackend::kNccl;
  options.device = Device::kCuda;
  options.device_index = device;
  options.name = name;
  options.timeout = std::chrono::minutes(1);
  return options;
}

// Quarters below 16 plus the rank: bfloat16 holds them, their sums over 4 ranks and the
// average over 2 or 4, exactly, so every wire gives exact results.
float RankValue(std::size_t grad, std::uint64_t element, int rank) {
  return static_cast<float>((grad * 7 + element * 5) % 32) / 4.0f - 4.0f + static_cast<float>(rank);
}

int VisibleDevices() {
  const Result<std::vector<CudaDevice>> devices = ListCudaDevices();
  return devices.ok() ? static_cast<int>(devices->size()) : 0;
}

class GradBucketsGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Result<std::vector<CudaDevice>> devices = ListCudaDevices();
    if (!devices.ok()) GTEST_SKIP() << "no usable GPU: " << devices.status();
    if (devices->empty()) GTEST_SKIP() << "no CUDA device visible";
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
    store_ = NewInMemoryStore();
    auto created = Communicator::Create(store_.get(), 0, 1, NcclOptions(0, "buckets"));
    ASSERT_TRUE(created.ok()) << created.status();
    comm_ = std::move(created).value();
  }

  std::unique_ptr<GradientBuckets> Buckets(const GradientBucketsOptions& options) {
    auto buckets = GradientBuckets::Create(comm_.get(), options);
    EXPECT_TRUE(buckets.ok()) << buckets.status();
    return buckets.ok() ? std::move(buckets).value() : nullptr;
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<Communicator> comm_;
};

// In backward order, with SmallBuckets: {5, 65536} (the first cap), 300001 alone (in place
// without compression), then {1, 4099, 0, 7}.
constexpr std::uint64_t kSizes[] = {7, 0, 4099, 1, 300001, 65536, 5};

GradientBucketsOptions SmallBuckets(WireDType wire) {
  GradientBucketsOptions options;
  options.cap_bytes = 256 << 10;
  options.first_cap_bytes = 16 << 10;
  options.wire_dtype = wire;
  return options;
}

// Every gradient comes back as it went in (one rank), or rounded as the host rounds it, for
// each wire dtype and float type, over three iterations.
TEST_F(GradBucketsGpuTest, DeviceBucketsGiveTheHostResultsBitForBit) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (WireDType wire : {WireDType::kNone, WireDType::kBFloat16, WireDType::kFloat16}) {
      const std::string what =
          std::string(DTypeName(dtype)) + " over " + std::string(WireDTypeName(wire));
      auto buckets = Buckets(SmallBuckets(wire));
      ASSERT_NE(buckets, nullptr);
      std::vector<std::unique_ptr<DeviceGradient>> grads;
      for (std::uint64_t size : kSizes) {
        grads.push_back(std::make_unique<DeviceGradient>(dtype, size));
        ASSERT_TRUE(
            buckets->Register("g" + std::to_string(grads.size()), grads.back()->View(0)).ok())
            << what;
      }
      const std::vector<GradientBucket> layout = buckets->Layout();
      ASSERT_EQ(layout.size(), 3u) << what;
      bool any_in_place = false;
      for (const GradientBucket& bucket : layout) any_in_place |= bucket.in_place;
      EXPECT_EQ(any_in_place, wire == WireDType::kNone) << what;

      for (int iteration = 0; iteration < 3; ++iteration) {
        std::vector<std::vector<unsigned char>> expected;
        for (std::size_t i = 0; i < grads.size(); ++i) {
          std::vector<unsigned char> host = Values(dtype, kSizes[i], iteration * 10 + int(i));
          grads[i]->Upload(host);
          expected.push_back(
              wire == WireDType::kNone
                  ? host
                  : RoundTrip(dtype, host,
                              wire == WireDType::kBFloat16 ? DType::kBFloat16 : DType::kFloat16));
        }
        for (std::size_t i = grads.size(); i-- > 0;) ASSERT_TRUE(buckets->MarkReady(i).ok());
        const Status finished = buckets->Finish();
        ASSERT_TRUE(finished.ok()) << what << ": " << finished;
        for (std::size_t i = 0; i < grads.size(); ++i) {
          EXPECT_TRUE(grads[i]->Download() == expected[i])
              << what << ", gradient " << i << ", iteration " << iteration;
        }
      }
      EXPECT_EQ(buckets->stats().iterations, 3u) << what;
    }
  }
}

// The gradients' writes, the copies into the buckets and the all-reduces all wait in stream
// order: with the device held, every bucket is still issued at MarkReady, and once it is let
// go the results are the values written last.
TEST_F(GradBucketsGpuTest, CopiesAndAllReducesFollowTheGradientsInStreamOrder) {
  auto buckets = Buckets(SmallBuckets(WireDType::kNone));
  ASSERT_NE(buckets, nullptr);
  std::vector<std::unique_ptr<DeviceGradient>> grads;
  for (std::uint64_t size : kSizes) {
    grads.push_back(std::make_unique<DeviceGradient>(DType::kFloat32, size));
    grads.back()->Upload(Values(DType::kFloat32, size, 1));
    ASSERT_TRUE(buckets->Register("g" + std::to_string(grads.size()), grads.back()->View(0)).ok());
  }
  const std::size_t bucket_count = buckets->Layout().size();
  // A first iteration allocates the buckets (cudaMalloc may wait for the device).
  for (std::size_t i = grads.size(); i-- > 0;) ASSERT_TRUE(buckets->MarkReady(i).ok());
  ASSERT_TRUE(buckets->Finish().ok());

  // Pinned host memory, so that the uploads below are asynchronous on the legacy stream.
  std::vector<std::vector<unsigned char>> fresh;
  std::vector<void*> pinned;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    fresh.push_back(Values(DType::kFloat32, kSizes[i], 99 + static_cast<int>(i)));
    void* host = nullptr;
    ASSERT_EQ(cudaMallocHost(&host, std::max<std::size_t>(fresh[i].size(), 1)), cudaSuccess);
    if (!fresh[i].empty()) std::memcpy(host, fresh[i].data(), fresh[i].size());
    pinned.push_back(host);
  }
  {
    StreamBlocker blocker;
    for (std::size_t i = grads.size(); i-- > 0;) {
      if (!fresh[i].empty()) {
        ASSERT_EQ(cudaMemcpyAsync(grads[i]->data(), pinned[i], fresh[i].size(),
                                  cudaMemcpyHostToDevice, cudaStreamLegacy),
                  cudaSuccess);
      }
      ASSERT_TRUE(buckets->MarkReady(i).ok());
    }
    EXPECT_EQ(buckets->stats().issued, bucket_count);
    blocker.Release();
  }
  const Status finished = buckets->Finish();
  ASSERT_TRUE(finished.ok()) << finished;
  EXPECT_EQ(buckets->stats().issued_before_finish, bucket_count);
  for (std::size_t i = 0; i < grads.size(); ++i) {
    EXPECT_TRUE(grads[i]->Download() == fresh[i]) << "gradient " << i;
  }
  for (void* host : pinned) (void)cudaFreeHost(host);
}

// Gradients moved into their device buckets: written there, averaged there, nothing copied;
// the registered tensors are left alone.
TEST_F(GradBucketsGpuTest, GradientsInTheirBucketsOnTheDevice) {
  auto buckets = Buckets(SmallBuckets(WireDType::kNone));
  ASSERT_NE(buckets, nullptr);
  std::vector<std::unique_ptr<DeviceGradient>> grads;
  std::vector<std::vector<unsigned char>> registered;
  for (std::size_t i = 0; i < std::size(kSizes); ++i) {
    grads.push_back(std::make_unique<DeviceGradient>(DType::kFloat32, kSizes[i]));
    registered.push_back(Values(DType::kFloat32, kSizes[i], static_cast<int>(i)));
    grads.back()->Upload(registered.back());
    ASSERT_TRUE(buckets->Register("g" + std::to_string(i), grads.back()->View(0)).ok());
  }
  std::vector<TensorView> views;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    auto view = buckets->GradientInBucket(i);
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_EQ(view->device, Device::kCuda);
    EXPECT_EQ(view->device_index, 0);
    views.push_back(*view);
  }
  for (int iteration = 0; iteration < 2; ++iteration) {
    std::vector<std::vector<unsigned char>> fresh;
    for (std::size_t i = grads.size(); i-- > 0;) {
      fresh.insert(fresh.begin(), Values(DType::kFloat32, kSizes[i], 50 + iteration + int(i)));
      CopyToDevice(views[i].data, fresh.front());
      ASSERT_TRUE(buckets->MarkReady(i).ok());
    }
    ASSERT_TRUE(buckets->Finish().ok());
    for (std::size_t i = 0; i < grads.size(); ++i) {
      EXPECT_TRUE(CopyToHost(views[i].data, fresh[i].size()) == fresh[i])
          << "gradient " << i << ", iteration " << iteration;
      if (views[i].data != grads[i]->data()) {
        EXPECT_TRUE(grads[i]->Download() == registered[i]) << "gradient " << i;
      }
    }
  }
}

// With one rank, a gradient marked unused comes back as zeros (the device memset stands in for
// it), in place or copied, compressed or not; the others come back as they went in.
TEST_F(GradBucketsGpuTest, UnusedGradientsComeBackAsZeros) {
  for (WireDType wire : {WireDType::kNone, WireDType::kBFloat16}) {
    auto buckets = Buckets(SmallBuckets(wire));
    ASSERT_NE(buckets, nullptr);
    std::vector<std::unique_ptr<DeviceGradient>> grads;
    std::vector<std::vector<unsigned char>> values;
    for (std::size_t i = 0; i < std::size(kSizes); ++i) {
      grads.push_back(std::make_unique<DeviceGradient>(DType::kFloat32, kSizes[i]));
      values.push_back(Values(DType::kFloat32, kSizes[i], static_cast<int>(i) + 7));
      grads.back()->Upload(values.back());
      ASSERT_TRUE(buckets->Register("g" + std::to_string(i), grads.back()->View(0)).ok());
    }
    auto unused = [](std::size_t i) { return i == 4 || i == 2; };  // 300001 alone; a shared one
    for (std::size_t i = grads.size(); i-- > 0;) {
      ASSERT_TRUE((unused(i) ? buckets->MarkUnused(i) : buckets->MarkReady(i)).ok());
    }
    ASSERT_TRUE(buckets->Finish().ok());
    for (std::size_t i = 0; i < grads.size(); ++i) {
      const std::vector<unsigned char> expected =
          unused(i)                  ? std::vector<unsigned char>(values[i].size(), 0)
          : wire == WireDType::kNone ? values[i]
                                     : RoundTrip(DType::kFloat32, values[i], DType::kBFloat16);
      EXPECT_TRUE(grads[i]->Download() == expected)
          << "gradient " << i << " over " << WireDTypeName(wire);
    }
  }
}

TEST_F(GradBucketsGpuTest, RegisterRefusesMemoryOfAnotherDevice) {
  auto buckets = Buckets({});
  ASSERT_NE(buckets, nullptr);
  std::vector<float> host(4);
  auto on_host = buckets->Register("host", {host.data(), DType::kFloat32, 4, Device::kCpu, 0});
  EXPECT_EQ(on_host.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(on_host.status().message(), HasSubstr("CPU memory"));
  EXPECT_THAT(on_host.status().message(), HasSubstr("\"host\""));

  DeviceGradient grad(DType::kFloat32, 4);
  auto elsewhere = buckets->Register("elsewhere", grad.View(1));
  EXPECT_EQ(elsewhere.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(elsewhere.status().message(), HasSubstr("CUDA device 1"));
  EXPECT_TRUE(buckets->Register("good", grad.View(0)).ok());
}

// Integer and 16-bit gradients travel as they are beside compressed float32 ones.
TEST_F(GradBucketsGpuTest, IntegerGradientsBesideCompressedOnes) {
  GradientBucketsOptions options = SmallBuckets(WireDType::kNone);
  options.average = false;
  auto buckets = Buckets(options);
  ASSERT_NE(buckets, nullptr);
  DeviceGradient counts(DType::kInt32, 1001);
  DeviceGradient weights(DType::kFloat32, 1001);
  const std::vector<unsigned char> count_values = Values(DType::kInt32, 1001, 3);
  const std::vector<unsigned char> weight_values = Values(DType::kFloat32, 1001, 4);
  counts.Upload(count_values);
  weights.Upload(weight_values);
  ASSERT_TRUE(buckets->Register("counts", counts.View(0)).ok());
  ASSERT_TRUE(buckets->Register("weights", weights.View(0)).ok());
  ASSERT_TRUE(buckets->MarkReady("weights").ok());
  ASSERT_TRUE(buckets->MarkReady("counts").ok());
  ASSERT_TRUE(buckets->Finish().ok());
  EXPECT_TRUE(counts.Download() == count_values);
  EXPECT_TRUE(weights.Download() == weight_values);
}

// One rank per GPU, each a thread: the average over ranks, compressed and not.
TEST(GradBucketsMultiGpuTest, TheAverageOverOneRankPerGpu) {
  const int devices = VisibleDevices();
  if (devices < 2) GTEST_SKIP() << "needs two GPUs or more (NCCL runs one rank per GPU)";
  const int world = devices >= 4 ? 4 : 2;  // a power of two: the averages are exact
  std::unique_ptr<Store> store = NewInMemoryStore();
  std::vector<std::string> failures(world);
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < world; ++rank) {
    ranks.emplace_back([&, rank] {
      auto fail = [&](const std::string& why) { failures[rank] = why; };
      if (cudaSetDevice(rank) != cudaSuccess) return fail("cudaSetDevice");
      auto comm = Communicator::Create(store.get(), rank, world, NcclOptions(rank, "multi"));
      if (!comm.ok()) return fail(comm.status().ToString());
      for (WireDType wire : {WireDType::kNone, WireDType::kBFloat16}) {
        auto buckets = GradientBuckets::Create(comm->get(), SmallBuckets(wire));
        if (!buckets.ok()) return fail(buckets.status().ToString());
        std::vector<std::unique_ptr<DeviceGradient>> grads;
        for (std::size_t i = 0; i < std::size(kSizes); ++i) {
          std::vector<float> host(kSizes[i]);
          for (std::uint64_t j = 0; j < kSizes[i]; ++j) host[j] = RankValue(i, j, rank);
          std::vector<unsigned char> bytes(host.size() * sizeof(float));
          if (!bytes.empty()) std::memcpy(bytes.data(), host.data(), bytes.size());
          grads.push_back(std::make_unique<DeviceGradient>(DType::kFloat32, kSizes[i]));
          grads.back()->Upload(bytes);
          auto index = (*buckets)->Register("g" + std::to_string(i), grads.back()->View(rank));
          if (!index.ok()) return fail(index.status().ToString());
        }
        for (std::size_t i = grads.size(); i-- > 0;) {
          if (Status s = (*buckets)->MarkReady(i); !s.ok()) return fail(s.ToString());
        }
        if (Status s = (*buckets)->Finish(); !s.ok()) return fail(s.ToString());
        const float shift = static_cast<float>(world - 1) / 2;
        for (std::size_t i = 0; i < grads.size(); ++i) {
          const std::vector<unsigned char> got = grads[i]->Download();
          for (std::uint64_t j = 0; j < kSizes[i]; ++j) {
            float value = 0;
            std::memcpy(&value, got.data() + sizeof(float) * j, sizeof(float));
            const float expected = RankValue(i, j, 0) + shift;
            if (value != expected) {
              return fail(std::string(WireDTypeName(wire)) + " wire: gradient " +
                          std::to_string(i) + "[" + std::to_string(j) + "] = " +
                          std::to_string(value) + ", expected " + std::to_string(expected));
            }
          }
        }
      }
    });
  }
  for (std::thread& t : ranks) t.join();
  for (int rank = 0; rank < world; ++rank) EXPECT_EQ(failures[rank], "") << "rank " << rank;
}

}  // namespace
}  // namespace train
