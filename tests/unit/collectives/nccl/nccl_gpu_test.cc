// The NCCL backend on a GPU, with a world of one rank: every op and dtype on device memory,
// the division of kAvg against the CPU backend's, async Wait, Abort, the wording of a timeout,
// Split, and a communicator that cannot form. Skipped, saying why, without a usable GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cpu/reduce_kernels.h"
#include "nccl/divide_kernel.h"
#include "stream_blocker.h"
#include "train/checkpoint.h"
#include "train/communicator.h"
#include "train/device.h"
#include "train/store.h"

namespace train {
namespace {

using testing::StreamBlocker;

constexpr DType kDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                             DType::kInt32,   DType::kInt64,   DType::kUInt8};
constexpr ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMin, ReduceOp::kMax,
                             ReduceOp::kProd};
constexpr std::uint64_t kCounts[] = {0, 1, 7, (1 << 20) + 3};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// cudaMalloc'ed bytes, freed at the end of the scope.
class DeviceBytes {
 public:
  explicit DeviceBytes(std::size_t bytes) : bytes_(bytes) {
    if (bytes > 0) TRAIN_CHECK_EQ(cudaMalloc(&data_, bytes), cudaSuccess);
  }
  ~DeviceBytes() {
    if (data_ != nullptr) TRAIN_CHECK_EQ(cudaFree(data_), cudaSuccess);
  }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;

  void* data() const { return data_; }
  void Upload(const std::vector<unsigned char>& host) {
    TRAIN_CHECK_EQ(host.size(), bytes_);
    if (bytes_ > 0) {
      TRAIN_CHECK_EQ(cudaMemcpy(data_, host.data(), bytes_, cudaMemcpyHostToDevice), cudaSuccess);
    }
  }
  std::vector<unsigned char> Download() const {
    std::vector<unsigned char> host(bytes_);
    if (bytes_ > 0) {
      TRAIN_CHECK_EQ(cudaMemcpy(host.data(), data_, bytes_, cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return host;
  }
  TensorView View(DType dtype) const {
    return TensorView{data_, dtype, bytes_ / DTypeSize(dtype), Device::kCuda, 0};
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_;
};

// Finite values of every dtype (16-bit floats: exponent never all ones).
std::vector<unsigned char> Pattern(DType dtype, std::uint64_t count, int seed) {
  std::vector<unsigned char> bytes(count * DTypeSize(dtype));
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto k =
        static_cast<std::int64_t>((i * 2654435761u + static_cast<unsigned>(seed)) % 1000);
    unsigned char* at = bytes.data() + i * DTypeSize(dtype);
    auto put = [at](auto value) { std::memcpy(at, &value, sizeof(value)); };
    switch (dtype) {
      case DType::kFloat32:
        put(static_cast<float>(k - 500) / 8);
        break;
      case DType::kFloat64:
        put(static_cast<double>(k - 500) / 8);
        break;
      case DType::kFloat16:
        put(static_cast<std::uint16_t>(0x3c00 | (k & 0x3ff)));
        break;
      case DType::kBFloat16:
        put(static_cast<std::uint16_t>(0x3f80 | (k & 0x7f)));
        break;
      case DType::kInt32:
        put(static_cast<std::int32_t>(k - 500));
        break;
      case DType::kInt64:
        put(static_cast<std::int64_t>(k - 500) << 20);
        break;
      default:
        put(static_cast<std::uint8_t>(k));
        break;
    }
  }
  return bytes;
}

std::string Case(const char* op, DType dtype, std::uint64_t count) {
  return std::string(op) + " " + std::string(DTypeName(dtype)) + " x " + std::to_string(count);
}

class NcclGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Result<std::vector<CudaDevice>> devices = ListCudaDevices();
    if (!devices.ok()) GTEST_SKIP() << "no usable GPU: " << devices.status();
    if (devices->empty()) GTEST_SKIP() << "no CUDA device visible";
    store_ = NewInMemoryStore();
    auto created = Communicator::Create(store_.get(), 0, 1, Options("nccl-test"));
    ASSERT_TRUE(created.ok()) << created.status();
    comm_ = std::move(created).value();
  }

  static CommunicatorOptions Options(const std::string& name) {
    CommunicatorOptions options;
    options.backend = CommBackend::kNccl;
    options.device = Device::kCuda;
    options.device_index = 0;
    options.name = name;
    options.timeout = std::chrono::minutes(1);
    return options;
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<Communicator> comm_;
};

// With one rank every reduction gives back its input, every gather and broadcast too: the
// output must be the input, byte for byte, in every dtype and size.
TEST_F(NcclGpuTest, EveryOpAndDTypeOnDeviceMemory) {
  EXPECT_EQ(comm_->backend(), CommBackend::kNccl);
  EXPECT_EQ(comm_->world_size(), 1);
  for (DType dtype : kDTypes) {
    for (std::uint64_t count : kCounts) {
      const std::vector<unsigned char> input = Pattern(dtype, count, static_cast<int>(count));
      for (ReduceOp op : kOps) {
        for (const char* kind : {"allreduce", "allreduce in place", "reducescatter"}) {
          const std::string what = Case(kind, dtype, count) + " " + std::string(ReduceOpName(op));
          DeviceBytes in(input.size());
          DeviceBytes out(input.size());
          in.Upload(input);
          std::shared_ptr<Work> work;
          if (std::string(kind) == "allreduce") {
            work = comm_->AllReduce(in.View(dtype), out.View(dtype), op);
          } else if (std::string(kind) == "reducescatter") {
            work = comm_->ReduceScatter(in.View(dtype), out.View(dtype), op);
          } else {
            work = comm_->AllReduce(in.View(dtype), op);
          }
          const Status status = work->Wait();
          ASSERT_TRUE(status.ok()) << what << ": " << status;
          EXPECT_TRUE(work->Done());
          const DeviceBytes& result = std::string(kind) == "allreduce in place" ? in : out;
          EXPECT_TRUE(result.Download() == input) << what;
        }
      }
      DeviceBytes in(input.size());
      DeviceBytes out(input.size());
      in.Upload(input);
      Status status = comm_->AllGather(in.View(dtype), out.View(dtype))->Wait();
      ASSERT_TRUE(status.ok()) << Case("allgather", dtype, count) << ": " << status;
      EXPECT_TRUE(out.Download() == input) << Case("allgather", dtype, count);
      status = comm_->Broadcast(in.View(dtype), 0)->Wait();
      ASSERT_TRUE(status.ok()) << Case("broadcast", dtype, count) << ": " << status;
      EXPECT_TRUE(in.Download() == input) << Case("broadcast", dtype, count);
    }
  }
  EXPECT_TRUE(comm_->Barrier()->Wait().ok());
}

// kAvg is NCCL's sum divided on the device. A world of one divides by one, so the division is
// checked here by itself: it must give the CPU backend's bytes (one rounding; integers
// truncate toward zero), in every dtype.
TEST_F(NcclGpuTest, TheAverageDividesLikeTheCpuBackend) {
  constexpr std::uint64_t kCount = (1 << 20) + 3;
  for (DType dtype : kDTypes) {
    for (int divisor : {1, 3, 7, 300}) {
      std::vector<unsigned char> expected = Pattern(dtype, kCount, divisor);
      DeviceBytes data(expected.size());
      data.Upload(expected);
      ASSERT_EQ(internal::DivideOnDevice(dtype, data.data(), kCount, divisor, nullptr),
                cudaSuccess);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      internal::DivideBy(dtype, expected.data(), kCount, divisor);
      EXPECT_TRUE(data.Download() == expected)
          << Case("divide", dtype, kCount) << " by " << divisor;
    }
  }
}

TEST_F(NcclGpuTest, OpsCompleteInOrderWhenWaitedOnLater) {
  std::vector<std::unique_ptr<DeviceBytes>> buffers;
  std::vector<std::shared_ptr<Work>> works;
  for (int k = 0; k < 16; ++k) {
    buffers.push_back(std::make_unique<DeviceBytes>(4 << 20));
    buffers.back()->Upload(Pattern(DType::kFloat32, 1 << 20, k));
    works.push_back(comm_->AllReduce(buffers.back()->View(DType::kFloat32), ReduceOp::kSum));
  }
  works.push_back(comm_->Barrier());
  for (auto& work : works) EXPECT_TRUE(work->Wait().ok()) << work->Describe();
  for (int k = 0; k < 16; ++k) {
    EXPECT_TRUE(buffers[k]->Download() == Pattern(DType::kFloat32, 1 << 20, k)) << "op " << k;
  }
}

TEST_F(NcclGpuTest, WaitingPastTheDeadlineGivenToWaitLetsTheOpGoOn) {
  StreamBlocker blocker;
  std::shared_ptr<Work> work =
      comm_->AllReduce(TensorView{nullptr, DType::kFloat32, 0, Device::kCuda, 0}, ReduceOp::kSum);
  const Status early = work->Wait(std::chrono::steady_clock::now());
  EXPECT_EQ(early.code(), StatusCode::kDeadlineExceeded) << early;
  EXPECT_TRUE(Contains(early.message(), "it goes on")) << early;
  EXPECT_FALSE(work->Done());
  blocker.Release();
  EXPECT_TRUE(work->Wait().ok());
  EXPECT_TRUE(comm_->Barrier()->Wait().ok());  // the communicator is fine
}

TEST_F(NcclGpuTest, AbortFailsTheOpInFlightAndEveryLaterOne) {
  StreamBlocker blocker;
  std::shared_ptr<Work> work =
      comm_->AllReduce(TensorView{nullptr, DType::kFloat32, 0, Device::kCuda, 0}, ReduceOp::kSum);
  work->Abort();
  const Status status = work->Wait();
  EXPECT_EQ(status.code(), StatusCode::kAborted) << status;
  EXPECT_TRUE(Contains(status.message(), "allreduce #1")) << status;
  const Status later = comm_->Barrier()->Wait();
  EXPECT_EQ(later.code(), StatusCode::kAborted) << later;
  EXPECT_TRUE(Contains(later.message(), "barrier #2")) << later;
}

TEST_F(NcclGpuTest, ATimeoutNamesTheOpAndAbortsTheCommunicator) {
  StreamBlocker blocker;
  OpOptions short_timeout;
  short_timeout.timeout = std::chrono::milliseconds(200);
  const Status status = comm_
                            ->AllReduce(TensorView{nullptr, DType::kFloat32, 0, Device::kCuda, 0},
                                        ReduceOp::kSum, short_timeout)
                            ->Wait();
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status;
  EXPECT_TRUE(Contains(status.message(), "allreduce #1 (sum, float32 x 0) timed out")) << status;
  EXPECT_TRUE(Contains(status.message(), "rank 0")) << status;
  EXPECT_TRUE(Contains(status.message(), "was aborted")) << status;
  const Status later = comm_->Barrier()->Wait();
  EXPECT_EQ(later.code(), StatusCode::kDeadlineExceeded) << later;
  EXPECT_TRUE(Contains(later.message(), "allreduce #1")) << later;
}

TEST_F(NcclGpuTest, HostMemoryIsRefusedBeforeAnythingIsEnqueued) {
  std::vector<float> host(16);
  const Status status =
      comm_
          ->AllReduce(TensorView{host.data(), DType::kFloat32, 16, Device::kCuda, 0},
                      ReduceOp::kSum)
          ->Wait();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(Contains(status.message(), "device memory")) << status;
  const Status cpu =
      comm_->AllReduce(TensorView{host.data(), DType::kFloat32, 16}, ReduceOp::kSum)->Wait();
  EXPECT_EQ(cpu.code(), StatusCode::kInvalidArgument) << cpu;
  EXPECT_TRUE(comm_->Barrier()->Wait().ok());  // refusals do not break the communicator
}

TEST_F(NcclGpuTest, SplitGivesAChildOrNothingForANegativeColor) {
  auto child = comm_->Split(3, 0);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_NE(*child, nullptr);
  EXPECT_EQ((*child)->world_size(), 1);
  EXPECT_EQ((*child)->rank(), 0);
  EXPECT_EQ((*child)->backend(), CommBackend::kNccl);
  DeviceBytes data(4 * 1024);
  data.Upload(Pattern(DType::kInt32, 1024, 5));
  EXPECT_TRUE((*child)->AllReduce(data.View(DType::kInt32), ReduceOp::kSum)->Wait().ok());
  EXPECT_TRUE(data.Download() == Pattern(DType::kInt32, 1024, 5));

  auto none = comm_->Split(-1, 0);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, nullptr);

  // The parent goes on working, and splits again.
  EXPECT_TRUE(comm_->Barrier()->Wait().ok());
  auto again = comm_->Split(0, 0);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_NE(*again, nullptr);
  EXPECT_TRUE((*again)->Barrier()->Wait().ok());
  EXPECT_TRUE((*child)->Barrier()->Wait().ok());
  EXPECT_TRUE(comm_->AllReduce(data.View(DType::kInt32), ReduceOp::kAvg)->Wait().ok());
  EXPECT_TRUE(data.Download() == Pattern(DType::kInt32, 1024, 5));
}

// What moves host memory beside the model's collectives gets a CPU communicator of the same
// ranks, formed over the store; the NCCL one goes on working.
TEST_F(NcclGpuTest, SplitForHostGivesACpuCommunicatorOfTheSameRanks) {
  auto host = comm_->SplitForHost();
  ASSERT_TRUE(host.ok()) << host.status();
  ASSERT_NE(*host, nullptr);
  EXPECT_EQ((*host)->backend(), CommBackend::kCpu);
  EXPECT_EQ((*host)->rank(), 0);
  EXPECT_EQ((*host)->world_size(), 1);
  std::vector<std::int64_t> value{41};
  EXPECT_TRUE(
      (*host)->AllReduce(TensorView{value.data(), DType::kInt64, 1}, ReduceOp::kMax)->Wait().ok());
  EXPECT_EQ(value[0], 41);
  EXPECT_TRUE(comm_->Barrier()->Wait().ok());
}

// A checkpointer opens on the communicator the training uses, NCCL included: its own messages
// travel on a host split, and device tensors are staged through the host.
TEST_F(NcclGpuTest, ACheckpointerOpensOnTheNcclCommunicator) {
  const std::string dir = ::testing::TempDir() + "/nccl-checkpoint-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  DeviceBytes weights(4 * 1024);
  weights.Upload(Pattern(DType::kFloat32, 1024, 9));
  {
    auto ckpt = Checkpointer::Open(dir, comm_.get(), {});
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    CheckpointState state;
    state.tensors.push_back({"weights", weights.View(DType::kFloat32), {1024}});
    ASSERT_TRUE((*ckpt)->Save(7, state).ok());
    ASSERT_TRUE((*ckpt)->WaitForSave().ok());
  }
  DeviceBytes loaded(4 * 1024);
  loaded.Upload(std::vector<unsigned char>(4 * 1024, 0));
  auto ckpt = Checkpointer::Open(dir, comm_.get(), {});
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  CheckpointState into;
  into.tensors.push_back({"weights", loaded.View(DType::kFloat32), {1024}});
  auto got = (*ckpt)->LoadLatest(into);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->step, 7);
  EXPECT_TRUE(loaded.Download() == Pattern(DType::kFloat32, 1024, 9));
  std::filesystem::remove_all(dir);
}

TEST_F(NcclGpuTest, ACommunicatorWhoseOtherRankNeverComesTimesOutAtCreate) {
  CommunicatorOptions options = Options("alone");
  options.timeout = std::chrono::milliseconds(500);
  auto created = Communicator::Create(store_.get(), 0, 2, options);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kDeadlineExceeded) << created.status();
  EXPECT_TRUE(Contains(created.status().message(), "did not form")) << created.status();
}

}  // namespace
}  // namespace train
