// What goes wrong: a rank that never arrives, an abort, bad arguments, a broken communicator;
// and Split and deterministic mode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "rank_threads.h"
#include "reference.h"

namespace train::testing {
namespace {

using ::testing::HasSubstr;

TEST(CommunicatorFaults, TimeoutNamesTheRankThatNeverCalled) {
  for (const char* layout : {"one host", "two hosts"}) {
    SCOPED_TRACE(layout);
    const bool two_hosts = std::string(layout) == "two hosts";
    World world = MakeWorld(3, {}, [&](int rank) {
      return two_hosts ? std::string(rank < 2 ? "a" : "b") : std::string();
    });
    OnEveryRank(3, [&](int rank) {
      if (rank == 2) return;  // never calls
      std::vector<float> data(1000, 1.0f);
      OpOptions options;
      options.timeout = std::chrono::milliseconds(1500);
      Status status = world.comms[rank]
                          ->AllReduce(TensorView{data.data(), DType::kFloat32, data.size()},
                                      ReduceOp::kSum, options)
                          ->Wait();
      EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status;
      EXPECT_THAT(status.message(), HasSubstr("allreduce #1 (sum, float32 x 1000)"));
      EXPECT_THAT(status.message(), HasSubstr("rank(s) 2 did not arrive"));
      // The communicator is broken now: the next op fails at once with the first error.
      Status next = world.comms[rank]->Barrier()->Wait();
      EXPECT_EQ(next.code(), StatusCode::kDeadlineExceeded) << next;
      EXPECT_THAT(next.message(), HasSubstr("barrier #2 not run"));
    });
  }
}

TEST(CommunicatorFaults, TimeoutNamesARankThatIsBehind) {
  World world = MakeWorld(3);
  OnEveryRank(3, [&](int rank) {
    auto& comm = *world.comms[rank];
    std::vector<float> data(10, 1.0f);
    TensorView view{data.data(), DType::kFloat32, data.size()};
    ASSERT_TRUE(comm.AllReduce(view, ReduceOp::kSum)->Wait().ok());
    if (rank == 1) return;  // stops after the first op
    OpOptions options;
    options.timeout = std::chrono::milliseconds(1500);
    Status status = comm.AllReduce(view, ReduceOp::kMax, options)->Wait();
    EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status;
    EXPECT_THAT(status.message(), HasSubstr("allreduce #2 (max, float32 x 10) timed out"));
    EXPECT_THAT(status.message(), HasSubstr("rank(s) 1 did not arrive"));
  });
}

TEST(CommunicatorFaults, AbortFailsThisRankAndReleasesThePeers) {
  World world = MakeWorld(2);
  OnEveryRank(2, [&](int rank) {
    std::vector<float> data(1 << 16, 1.0f);
    TensorView view{data.data(), DType::kFloat32, data.size()};
    OpOptions options;
    options.timeout = std::chrono::seconds(rank == 0 ? 60 : 3);
    if (rank == 0) {
      auto work = world.comms[0]->AllReduce(view, ReduceOp::kSum, options);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      work->Abort();
      Status status = work->Wait();
      EXPECT_EQ(status.code(), StatusCode::kAborted) << status;
      EXPECT_EQ(world.comms[0]->Barrier()->Wait().code(), StatusCode::kAborted);
    } else {
      // Rank 1 arrives late, after the abort: its op cannot complete.
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      Status status = world.comms[1]->AllReduce(view, ReduceOp::kSum, options)->Wait();
      EXPECT_FALSE(status.ok());
    }
  });
}

// Rank 0 aborts between ops (Abort on a Work of an op that completed): rank 1, blocked in an
// op that waits on rank 0, fails at once naming it, not at its deadline.
TEST(CommunicatorFaults, AnAbortBetweenOpsReleasesThePeersAtOnce) {
  for (const char* layout : {"one host", "two hosts"}) {
    SCOPED_TRACE(layout);
    const bool two_hosts = std::string(layout) == "two hosts";
    World world = MakeWorld(2, {}, [&](int rank) {
      return two_hosts ? std::string(rank == 0 ? "a" : "b") : std::string();
    });
    OnEveryRank(2, [&](int rank) {
      std::vector<float> data(1 << 10, 1.0f);
      TensorView view{data.data(), DType::kFloat32, data.size()};
      auto first = world.comms[rank]->AllReduce(view, ReduceOp::kSum);
      ASSERT_TRUE(first->Wait().ok());
      if (rank == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        first->Abort();
        EXPECT_EQ(world.comms[0]->Barrier()->Wait().code(), StatusCode::kAborted);
        return;
      }
      OpOptions options;
      options.timeout = std::chrono::seconds(60);
      const auto start = std::chrono::steady_clock::now();
      Status status = world.comms[1]->AllReduce(view, ReduceOp::kSum, options)->Wait();
      const auto waited = std::chrono::steady_clock::now() - start;
      EXPECT_FALSE(status.ok());
      EXPECT_THAT(status.message(), HasSubstr("rank 0")) << status;
      EXPECT_THAT(status.message(), HasSubstr("abort")) << status;
      EXPECT_LT(waited, std::chrono::seconds(20)) << status;
    });
  }
}

TEST(CommunicatorFaults, WaitWithADeadlineLeavesTheOpRunning) {
  World world = MakeWorld(2);
  OnEveryRank(2, [&](int rank) {
    std::vector<float> data(100, 2.0f);
    TensorView view{data.data(), DType::kFloat32, data.size()};
    if (rank == 1) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto work = world.comms[rank]->AllReduce(view, ReduceOp::kSum);
    if (rank == 0) {
      Status early = work->Wait(std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
      EXPECT_EQ(early.code(), StatusCode::kDeadlineExceeded);
      EXPECT_FALSE(work->Done());
    }
    EXPECT_TRUE(work->Wait().ok());
    EXPECT_TRUE(work->Done());
    EXPECT_EQ(data[0], 4.0f);
  });
}

TEST(CommunicatorFaults, BadArgumentsAreRefusedAndChangeNothing) {
  World world = MakeWorld(1);
  auto& comm = *world.comms[0];
  std::vector<float> a(10, 1.0f), b(12, 0.0f);
  std::vector<std::int8_t> c(10, 0);
  Status status = comm.AllReduce(TensorView{a.data(), DType::kFloat32, 10},
                                 TensorView{b.data(), DType::kFloat32, 12}, ReduceOp::kSum)
                      ->Wait();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("`out` (float32 x 12) must match `in` (float32 x 10)"));
  status = comm.AllReduce(TensorView{c.data(), DType::kInt8, 10}, ReduceOp::kSum)->Wait();
  EXPECT_THAT(status.message(), HasSubstr("dtype int8"));
  status = comm.AllReduce(TensorView{nullptr, DType::kFloat32, 10}, ReduceOp::kSum)->Wait();
  EXPECT_THAT(status.message(), HasSubstr("no data pointer"));
  status = comm.Broadcast(TensorView{a.data(), DType::kFloat32, 10}, 3)->Wait();
  EXPECT_THAT(status.message(), HasSubstr("root 3 is not a rank of a world of 1"));
  TensorView cuda{a.data(), DType::kFloat32, 10, Device::kCuda};
  status = comm.AllReduce(cuda, ReduceOp::kSum)->Wait();
  EXPECT_THAT(status.message(), HasSubstr("CUDA memory"));
  // Refused ops do not break the communicator.
  EXPECT_TRUE(comm.Barrier()->Wait().ok());
  EXPECT_EQ(b[0], 0.0f);

  auto store = NewInMemoryStore();
  EXPECT_EQ(Communicator::Create(store.get(), 2, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Communicator::Create(nullptr, 0, 2).status().code(), StatusCode::kFailedPrecondition);
}

TEST(CommunicatorSplit, RanksOfAColorFormAWorld) {
  World world = MakeWorld(5);
  OnEveryRank(5, [&](int rank) {
    // Colors: even ranks 0, odd ranks 1, rank 4 none; keys reverse the order.
    const int color = rank == 4 ? -1 : rank % 2;
    auto child = world.comms[rank]->Split(color, -rank);
    ASSERT_TRUE(child.ok()) << child.status();
    if (color < 0) {
      EXPECT_EQ(*child, nullptr);
      return;
    }
    Communicator& sub = **child;
    EXPECT_EQ(sub.world_size(), 2);
    EXPECT_EQ(sub.rank(), rank < 2 ? 1 : 0);  // higher rank, lower key, comes first
    std::vector<std::int64_t> value{rank};
    ASSERT_TRUE(
        sub.AllReduce(TensorView{value.data(), DType::kInt64, 1}, ReduceOp::kSum)->Wait().ok());
    EXPECT_EQ(value[0], color == 0 ? 0 + 2 : 1 + 3);
  });
}

// A CPU communicator's host split is a communicator of the same ranks (a checkpointer's or
// the memory snapshots' own), usable beside its parent.
TEST(CommunicatorSplit, SplitForHostKeepsEveryRankInPlace) {
  World world = MakeWorld(3);
  OnEveryRank(3, [&](int rank) {
    auto host = world.comms[rank]->SplitForHost();
    ASSERT_TRUE(host.ok()) << host.status();
    ASSERT_NE(*host, nullptr);
    EXPECT_EQ((*host)->rank(), rank);
    EXPECT_EQ((*host)->world_size(), 3);
    EXPECT_EQ((*host)->backend(), CommBackend::kCpu);
    std::vector<std::int64_t> value{rank + 1};
    ASSERT_TRUE((*host)
                    ->AllReduce(TensorView{value.data(), DType::kInt64, 1}, ReduceOp::kSum)
                    ->Wait()
                    .ok());
    EXPECT_EQ(value[0], 6);
    EXPECT_TRUE(world.comms[rank]->Barrier()->Wait().ok());
  });
}

// Deterministic mode: the same elements reduce to the same bits whatever the message size and
// chunking, also between hosts.
TEST(CommunicatorDeterminism, BitwiseStableAcrossChunkAndMessageSizes) {
  constexpr int kRanks = 4;
  constexpr std::uint64_t kCount = 300001;
  std::vector<std::vector<float>> inputs(kRanks, std::vector<float>(kCount));
  std::mt19937 random(7);
  std::normal_distribution<float> normal(0.0f, 1e3f);
  for (auto& input : inputs) {
    for (float& x : input) x = normal(random);
  }
  std::vector<std::vector<float>> results;
  for (std::size_t chunk : {std::size_t{0}, std::size_t{4096}, std::size_t{65536}}) {
    for (std::uint64_t count : {kCount, kCount / 3}) {
      CommunicatorOptions options;
      options.deterministic = true;
      options.chunk_bytes = chunk;
      World world =
          MakeWorld(kRanks, options, [](int rank) { return std::string(rank < 2 ? "a" : "b"); });
      std::vector<float> out(count);
      OnEveryRank(kRanks, [&](int rank) {
        std::vector<float> data(inputs[rank].begin(), inputs[rank].begin() + count);
        ASSERT_TRUE(world.comms[rank]
                        ->AllReduce(TensorView{data.data(), DType::kFloat32, count}, ReduceOp::kSum)
                        ->Wait()
                        .ok());
        if (rank == 0) out = data;
      });
      results.push_back(out);
    }
  }
  for (std::size_t k = 1; k < results.size(); ++k) {
    const std::uint64_t n = std::min(results[0].size(), results[k].size());
    EXPECT_EQ(std::memcmp(results[0].data(), results[k].data(), n * sizeof(float)), 0)
        << "run " << k << " differs";
  }
}

}  // namespace
}  // namespace train::testing
