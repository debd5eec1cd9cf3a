// The MPI backend under mpirun (ctest runs this program with -np 2 and -np 4): every op x
// dtype x size through train::Communicator, cross-checked against MPI_Allreduce called
// directly on the same values; in-place forms, Split, a timeout and an abort. Every rank runs
// the same tests in the same order, so value checks are EXPECTs: a wrong value on one rank
// must not make it skip the collectives the others are waiting in.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "element_values.h"
#include "train/communicator.h"
#include "train/device.h"
#include "train/env.h"
#include "train/grad_buckets.h"
#include "train/worker.h"

namespace train {
namespace {

using testing::Buffer;
using testing::GetElement;
using testing::SetElement;

constexpr DType kDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                             DType::kInt32,   DType::kInt64,   DType::kUInt8};
constexpr ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMin, ReduceOp::kMax,
                             ReduceOp::kProd};
constexpr std::uint64_t kCounts[] = {0, 1, 7, 65537};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

WorkerEnv Job() {
  Result<WorkerEnv> env = WorkerEnv::FromEnvironment();
  TRAIN_CHECK_OK(env.status());
  TRAIN_CHECK(env->launcher == Launcher::kOpenMpi);
  return *env;
}

CommunicatorOptions MpiOptions(const std::string& name) {
  CommunicatorOptions options;
  options.backend = CommBackend::kMpi;
  options.name = name;
  // Long enough for a loaded machine; a mismatch between ranks still ends in an error.
  options.timeout = std::chrono::minutes(2);
  return options;
}

std::unique_ptr<Communicator> CreateOrDie(const std::string& name) {
  const WorkerEnv job = Job();
  auto created = Communicator::Create(nullptr, job.rank, job.world_size, MpiOptions(name));
  TRAIN_CHECK_OK(created.status());
  return std::move(created).value();
}

// The communicator most tests share (created on first use, destroyed at exit before MPI is
// finalized).
Communicator& World() {
  static std::unique_ptr<Communicator> world = CreateOrDie("world");
  return *world;
}

bool IsFloat(DType dtype) {
  return dtype == DType::kFloat32 || dtype == DType::kFloat64 || dtype == DType::kFloat16 ||
         dtype == DType::kBFloat16;
}

// Small values every dtype holds exactly, whose sums and products over 4 ranks stay exact.
double Value(DType dtype, ReduceOp op, int rank, std::uint64_t i) {
  const auto k = static_cast<int>((i * 7 + static_cast<std::uint64_t>(rank) * 3) % 11);
  if (op == ReduceOp::kProd) {
    const int factors[] = {1, 2, dtype == DType::kUInt8 ? 3 : -1};
    return factors[k % 3];
  }
  return dtype == DType::kUInt8 ? k : k - 5;
}

std::vector<unsigned char> Filled(DType dtype, ReduceOp op, int rank, std::uint64_t count,
                                  std::uint64_t first = 0) {
  std::vector<unsigned char> data = Buffer(dtype, count);
  for (std::uint64_t i = 0; i < count; ++i) {
    SetElement(dtype, data.data(), i, Value(dtype, op, rank, first + i));
  }
  return data;
}

// What every rank's result must be: MPI_Allreduce of the same values as doubles, then what
// the dtype makes of it (uint8 wraps; kAvg divides, integers truncating).
std::vector<double> Reference(DType dtype, ReduceOp op, const std::vector<unsigned char>& mine,
                              std::uint64_t count, int world_size) {
  std::vector<double> in(count);
  std::vector<double> out(count);
  for (std::uint64_t i = 0; i < count; ++i) in[i] = GetElement(dtype, mine.data(), i);
  const MPI_Op mpi_op = op == ReduceOp::kMin    ? MPI_MIN
                        : op == ReduceOp::kMax  ? MPI_MAX
                        : op == ReduceOp::kProd ? MPI_PROD
                                                : MPI_SUM;
  if (count > 0) {
    TRAIN_CHECK_EQ(MPI_Allreduce(in.data(), out.data(), static_cast<int>(count), MPI_DOUBLE, mpi_op,
                                 MPI_COMM_WORLD),
                   MPI_SUCCESS);
  }
  for (double& value : out) {
    if (dtype == DType::kUInt8) value = std::fmod(std::fmod(value, 256.0) + 256.0, 256.0);
    if (op == ReduceOp::kAvg) {
      value = IsFloat(dtype) ? value / world_size : std::trunc(value / world_size);
    }
  }
  return out;
}

// EXPECTs that `data` holds `expected` from element `first` on; reports the first mismatch.
void ExpectValues(DType dtype, const void* data, const std::vector<double>& expected,
                  std::uint64_t first, std::uint64_t count, const std::string& what) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const double got = GetElement(dtype, data, i);
    if (got != expected[first + i]) {
      ADD_FAILURE() << what << ": element " << i << " is " << got << ", expected "
                    << expected[first + i];
      return;
    }
  }
}

std::string Case(const char* op, DType dtype, std::uint64_t count) {
  return std::string(op) + " " + std::string(DTypeName(dtype)) + " x " + std::to_string(count);
}

TEST(MpiCommunicatorTest, ReportsTheMpiWorld) {
  const WorkerEnv job = Job();
  EXPECT_EQ(World().backend(), CommBackend::kMpi);
  EXPECT_EQ(World().rank(), job.rank);
  EXPECT_EQ(World().world_size(), job.world_size);
}

TEST(MpiCommunicatorTest, AllReduceMatchesMpiAllreduce) {
  Communicator& world = World();
  for (DType dtype : kDTypes) {
    for (ReduceOp op : kOps) {
      for (std::uint64_t count : kCounts) {
        for (bool in_place : {false, true}) {
          const std::string what = Case("allreduce", dtype, count) + " " +
                                   std::string(ReduceOpName(op)) + (in_place ? " in place" : "");
          std::vector<unsigned char> in = Filled(dtype, op, world.rank(), count);
          const std::vector<double> expected = Reference(dtype, op, in, count, world.world_size());
          std::vector<unsigned char> out =
              in_place ? std::vector<unsigned char>() : Buffer(dtype, count);
          unsigned char* result = in_place ? in.data() : out.data();
          const Status status = world
                                    .AllReduce(TensorView{in.data(), dtype, count},
                                               TensorView{result, dtype, count}, op)
                                    ->Wait();
          ASSERT_TRUE(status.ok()) << what << ": " << status;
          ExpectValues(dtype, result, expected, 0, count, what);
        }
      }
    }
  }
}

TEST(MpiCommunicatorTest, ReduceScatterMatchesMpiAllreduce) {
  Communicator& world = World();
  const auto ranks = static_cast<std::uint64_t>(world.world_size());
  for (DType dtype : kDTypes) {
    for (ReduceOp op : kOps) {
      for (std::uint64_t count : kCounts) {
        const std::string what =
            Case("reducescatter", dtype, count) + " " + std::string(ReduceOpName(op));
        std::vector<unsigned char> in = Filled(dtype, op, world.rank(), count * ranks);
        const std::vector<double> expected =
            Reference(dtype, op, in, count * ranks, world.world_size());
        std::vector<unsigned char> out = Buffer(dtype, count);
        const Status status = world
                                  .ReduceScatter(TensorView{in.data(), dtype, count * ranks},
                                                 TensorView{out.data(), dtype, count}, op)
                                  ->Wait();
        ASSERT_TRUE(status.ok()) << what << ": " << status;
        ExpectValues(dtype, out.data(), expected, count * world.rank(), count, what);
      }
    }
  }
}

TEST(MpiCommunicatorTest, AllGatherCollectsEveryRanksBlock) {
  Communicator& world = World();
  const auto ranks = static_cast<std::uint64_t>(world.world_size());
  for (DType dtype : kDTypes) {
    for (std::uint64_t count : kCounts) {
      for (bool in_place : {false, true}) {
        const std::string what = Case("allgather", dtype, count) + (in_place ? " in place" : "");
        std::vector<double> expected;
        for (int r = 0; r < world.world_size(); ++r) {
          for (std::uint64_t i = 0; i < count; ++i) {
            expected.push_back(Value(dtype, ReduceOp::kSum, r, i));
          }
        }
        std::vector<unsigned char> mine = Filled(dtype, ReduceOp::kSum, world.rank(), count);
        std::vector<unsigned char> out = Buffer(dtype, count * ranks);
        void* in_data = mine.data();
        if (in_place) {
          in_data = out.data() + mine.size() * world.rank();
          std::copy(mine.begin(), mine.end(), static_cast<unsigned char*>(in_data));
        }
        const Status status = world
                                  .AllGather(TensorView{in_data, dtype, count},
                                             TensorView{out.data(), dtype, count * ranks})
                                  ->Wait();
        ASSERT_TRUE(status.ok()) << what << ": " << status;
        ExpectValues(dtype, out.data(), expected, 0, count * ranks, what);
      }
    }
  }
}

TEST(MpiCommunicatorTest, BroadcastCopiesTheRootsTensor) {
  Communicator& world = World();
  for (DType dtype : kDTypes) {
    for (std::uint64_t count : kCounts) {
      for (int root : {0, world.world_size() - 1}) {
        const std::string what = Case("broadcast", dtype, count) + " from " + std::to_string(root);
        std::vector<double> expected;
        for (std::uint64_t i = 0; i < count; ++i) {
          expected.push_back(Value(dtype, ReduceOp::kSum, root, i));
        }
        std::vector<unsigned char> data = Filled(dtype, ReduceOp::kSum, world.rank(), count);
        const Status status = world.Broadcast(TensorView{data.data(), dtype, count}, root)->Wait();
        ASSERT_TRUE(status.ok()) << what << ": " << status;
        ExpectValues(dtype, data.data(), expected, 0, count, what);
      }
    }
  }
}

TEST(MpiCommunicatorTest, OpsIssuedTogetherCompleteInOrder) {
  Communicator& world = World();
  constexpr int kOpsInFlight = 8;
  constexpr std::uint64_t kCount = 1 << 20;  // large enough to take MPI several rounds
  std::vector<std::vector<float>> tensors(kOpsInFlight, std::vector<float>(kCount));
  std::vector<std::shared_ptr<Work>> works;
  for (int k = 0; k < kOpsInFlight; ++k) {
    std::fill(tensors[k].begin(), tensors[k].end(), static_cast<float>(world.rank() + k));
    works.push_back(
        world.AllReduce(TensorView{tensors[k].data(), DType::kFloat32, kCount}, ReduceOp::kSum));
    if (k % 3 == 2) works.push_back(world.Barrier());
  }
  for (auto& work : works) ASSERT_TRUE(work->Wait().ok()) << work->Describe();
  const int n = world.world_size();
  for (int k = 0; k < kOpsInFlight; ++k) {
    const float expected = static_cast<float>(n * (n - 1) / 2 + n * k);
    EXPECT_EQ(tensors[k].front(), expected) << "op " << k;
    EXPECT_EQ(tensors[k].back(), expected) << "op " << k;
  }
}

TEST(MpiCommunicatorTest, SplitGroupsRanksByColorOrderedByKey) {
  Communicator& world = World();
  const int color = world.rank() % 2;
  // Keys in reverse: the child ranks run the other way round.
  auto child = world.Split(color, world.world_size() - world.rank());
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_NE(*child, nullptr);
  std::vector<int> members;
  for (int r = world.world_size() - 1; r >= 0; --r) {
    if (r % 2 == color) members.push_back(r);
  }
  EXPECT_EQ((*child)->backend(), CommBackend::kMpi);
  EXPECT_EQ((*child)->world_size(), static_cast<int>(members.size()));
  EXPECT_EQ(members.at((*child)->rank()), world.rank());
  EXPECT_NE((*child)->options().name, world.options().name);

  std::int64_t value = world.rank();
  ASSERT_TRUE(
      (*child)->AllReduce(TensorView{&value, DType::kInt64, 1}, ReduceOp::kSum)->Wait().ok());
  std::int64_t expected = 0;
  for (int r : members) expected += r;
  EXPECT_EQ(value, expected);
}

TEST(MpiCommunicatorTest, ANegativeColorTakesPartButGetsNoCommunicator) {
  Communicator& world = World();
  const bool left_out = world.rank() == 0;
  auto child = world.Split(left_out ? -1 : 0, world.rank());
  ASSERT_TRUE(child.ok()) << child.status();
  if (left_out) {
    EXPECT_EQ(*child, nullptr);
    return;
  }
  ASSERT_NE(*child, nullptr);
  EXPECT_EQ((*child)->world_size(), world.world_size() - 1);
  EXPECT_EQ((*child)->rank(), world.rank() - 1);
  EXPECT_TRUE((*child)->Barrier()->Wait().ok());
}

// Rank 0 issues an op the others issue only after it failed; the others' ops then complete
// against rank 0's (MPI cannot withdraw it), and every rank meets again in MPI_Barrier.
TEST(MpiCommunicatorTest, ATimeoutNamesTheOpAndBreaksTheCommunicator) {
  std::unique_ptr<Communicator> comm = CreateOrDie("timeout");
  float value = 1.0f;
  const TensorView tensor{&value, DType::kFloat32, 1};
  if (comm->rank() == 0) {
    OpOptions short_timeout;
    short_timeout.timeout = std::chrono::milliseconds(300);
    const Status status = comm->AllReduce(tensor, ReduceOp::kSum, short_timeout)->Wait();
    EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status;
    EXPECT_TRUE(Contains(status.message(), "allreduce #1 (sum, float32 x 1)")) << status;
    EXPECT_TRUE(Contains(status.message(), "timed out")) << status;
    // Broken: the next op fails at once with the first error.
    const Status later = comm->Barrier()->Wait();
    EXPECT_EQ(later.code(), StatusCode::kDeadlineExceeded) << later;
    EXPECT_TRUE(Contains(later.message(), "allreduce #1")) << later;
  }
  ASSERT_EQ(MPI_Barrier(MPI_COMM_WORLD), MPI_SUCCESS);
  if (comm->rank() != 0) {
    const Status status = comm->AllReduce(tensor, ReduceOp::kSum)->Wait();
    EXPECT_TRUE(status.ok()) << status;
  }
  ASSERT_EQ(MPI_Barrier(MPI_COMM_WORLD), MPI_SUCCESS);
}

// Only rank 0 issues an op, and aborts it: whether or not the op reached MPI before the
// abort, rank 0 gets ABORTED at once and the communicator is broken. The others never issue
// it, so that nobody waits on an op that may never have been posted.
TEST(MpiCommunicatorTest, AbortFailsTheOpAndEveryLaterOne) {
  std::unique_ptr<Communicator> comm = CreateOrDie("abort");
  if (comm->rank() == 0) {
    float value = 1.0f;
    std::shared_ptr<Work> work =
        comm->AllReduce(TensorView{&value, DType::kFloat32, 1}, ReduceOp::kSum);
    work->Abort();
    const Status status = work->Wait();
    EXPECT_EQ(status.code(), StatusCode::kAborted) << status;
    EXPECT_TRUE(work->Done());
    const Status later = comm->Barrier()->Wait();
    EXPECT_EQ(later.code(), StatusCode::kAborted) << later;
    EXPECT_TRUE(Contains(later.message(), "barrier #2")) << later;
  }
  ASSERT_EQ(MPI_Barrier(MPI_COMM_WORLD), MPI_SUCCESS);
}

TEST(MpiCommunicatorTest, ARankOrSizeOtherThanMpisIsRefused) {
  const WorkerEnv job = Job();
  auto created =
      Communicator::Create(nullptr, job.rank, job.world_size + 1, MpiOptions("mismatch"));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kFailedPrecondition) << created.status();
  EXPECT_TRUE(Contains(created.status().message(), "MPI_COMM_WORLD")) << created.status();
}

TEST(MpiCommunicatorTest, CudaTensorsAreRefused) {
  const WorkerEnv job = Job();
  CommunicatorOptions options = MpiOptions("cuda");
  options.device = Device::kCuda;
  auto created = Communicator::Create(nullptr, job.rank, job.world_size, options);
  ASSERT_FALSE(created.ok());
}

// GradientBuckets over the MPI backend: several buckets, one of them in place, a gradient in
// its bucket and one unused on rank 0; the averages equal MPI_Allreduce's sums over the ranks
// divided by the world size.
TEST(MpiCommunicatorTest, GradientBucketsAverageOverMpi) {
  Communicator& comm = World();
  const int world = comm.world_size();
  const std::vector<std::uint64_t> sizes = {3, 5000, 1, 20000, 7};
  GradientBucketsOptions options;
  options.first_cap_bytes = 16;
  options.cap_bytes = 20000;
  auto buckets = GradientBuckets::Create(&comm, options);
  ASSERT_TRUE(buckets.ok()) << buckets.status();
  std::vector<std::vector<float>> grads;
  for (std::uint64_t size : sizes) grads.emplace_back(size);
  for (std::size_t g = 0; g < sizes.size(); ++g) {
    ASSERT_TRUE(
        (*buckets)
            ->Register("g" + std::to_string(g), {grads[g].data(), DType::kFloat32, sizes[g]})
            .ok());
  }
  auto in_bucket = (*buckets)->GradientInBucket(2);
  ASSERT_TRUE(in_bucket.ok()) << in_bucket.status();
  std::vector<float*> data;
  for (auto& grad : grads) data.push_back(grad.data());
  data[2] = static_cast<float*>(in_bucket->data);
  const std::size_t unused_on_rank0 = 1;
  for (int step = 1; step <= 2; ++step) {
    std::vector<std::vector<float>> sums(sizes.size());
    for (std::size_t g = 0; g < sizes.size(); ++g) {
      for (std::uint64_t i = 0; i < sizes[g]; ++i) {
        data[g][i] = static_cast<float>((i * 5 + g + static_cast<std::uint64_t>(comm.rank())) % 9);
      }
      const bool unused = g == unused_on_rank0 && comm.rank() == 0;
      std::vector<float> mine(data[g], data[g] + sizes[g]);
      if (unused) std::fill(mine.begin(), mine.end(), 0.0f);
      sums[g].resize(sizes[g]);
      MPI_Allreduce(mine.data(), sums[g].data(), static_cast<int>(sizes[g]), MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
    }
    for (std::size_t g = sizes.size(); g-- > 0;) {
      const bool unused = g == unused_on_rank0 && comm.rank() == 0;
      EXPECT_TRUE((unused ? (*buckets)->MarkUnused(g) : (*buckets)->MarkReady(g)).ok());
    }
    const Status finished = (*buckets)->Finish();
    ASSERT_TRUE(finished.ok()) << finished;
    for (std::size_t g = 0; g < sizes.size(); ++g) {
      for (std::uint64_t i = 0; i < sizes[g]; ++i) {
        EXPECT_EQ(data[g][i], sums[g][i] / static_cast<float>(world))
            << "gradient " << g << "[" << i << "], step " << step << ", rank " << comm.rank();
        if (data[g][i] != sums[g][i] / static_cast<float>(world)) break;
      }
    }
  }
}

// Under mpirun a CUDA communicator is NCCL with its unique id broadcast through MPI (a
// communicator "<name>/bootstrap" of the MPI backend). Without a GPU the NCCL plugin is still
// reached through that path and says why it cannot go on; with a GPU per rank the
// communicator works on device memory. (The id's broadcast itself is checked in
// nccl_unique_id_test; NCCL refuses two ranks on one GPU, so a one-GPU machine runs it with
// one rank: ctest's mpi_communicator_test.np1.nccl, label gpu.)
TEST(MpiCommunicatorTest, ACudaCommunicatorIsNcclBootstrappedThroughMpi) {
  auto worker = Worker::Init();
  ASSERT_TRUE(worker.ok()) << worker.status();
  const Result<std::vector<CudaDevice>> devices = ListCudaDevices();
  const int gpus = devices.ok() ? static_cast<int>(devices->size()) : 0;
  if (gpus > 0 && gpus < (*worker)->env().world_size) {
    GTEST_SKIP() << "NCCL needs a GPU per rank: " << gpus << " GPU(s) for "
                 << (*worker)->env().world_size << " ranks";
  }
  CommunicatorOptions options;
  options.name = "nccl-via-mpi";
  options.device = Device::kCuda;
  options.device_index = gpus > 0 ? (*worker)->env().local_rank : 0;
  options.timeout = std::chrono::minutes(2);
  auto created = Communicator::Create(**worker, options);
  if (gpus == 0) {
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.status().code(), StatusCode::kFailedPrecondition) << created.status();
    // Without a GPU: the plugin's error; in a build without CUDA, that it has no plugin.
    const std::string& message = created.status().message();
    if (Contains(message, "libtrain-nccl.so is built only when")) {
      EXPECT_TRUE(Contains(message, "TRAIN_WITH_CUDA")) << created.status();
      return;
    }
    EXPECT_TRUE(Contains(message, "NCCL")) << created.status();
    EXPECT_TRUE(Contains(message, "CPU backend")) << created.status();
    return;
  }
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)->backend(), CommBackend::kNccl);
  EXPECT_EQ((*created)->world_size(), (*worker)->env().world_size);
  // The barrier is an NCCL all-reduce of a device cell: the communicator really formed.
  const Status barrier = (*created)->Barrier()->Wait();
  EXPECT_TRUE(barrier.ok()) << barrier;
}

}  // namespace
}  // namespace train
