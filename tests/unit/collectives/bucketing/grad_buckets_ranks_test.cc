// Bucketed all-reduces against plain ones, with ranks as threads on the CPU backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <thread>

#include "gradients.h"
#include "train/store.h"

namespace train::testing {
namespace {

// Runs `body` on `world_size` threads, each with its CPU communicator over one store.
void RunRanks(int world_size, const std::function<void(Communicator&)>& body) {
  std::unique_ptr<Store> store = NewInMemoryStore();
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < world_size; ++rank) {
    ranks.emplace_back([&, rank] {
      CommunicatorOptions options;
      options.backend = CommBackend::kCpu;
      options.timeout = std::chrono::minutes(2);
      auto comm = Communicator::Create(store.get(), rank, world_size, options);
      ASSERT_TRUE(comm.ok()) << "rank " << rank << ": " << comm.status();
      body(**comm);
    });
  }
  for (std::thread& rank : ranks) rank.join();
}

// Sizes that make several buckets under SmallCaps, with empty, tiny and odd gradients.
const std::vector<std::size_t> kSizes = {5, 1000, 3, 70000, 1, 0, 4096, 33, 2};

GradientBucketsOptions SmallCaps() {
  GradientBucketsOptions options;
  options.first_cap_bytes = 256;
  options.cap_bytes = 16 << 10;
  return options;
}

// Each rank marks in its own order: backward order, forward order, or shuffled.
std::vector<std::size_t> MarkOrder(int rank, std::size_t count) {
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  if (rank % 3 == 0) std::reverse(order.begin(), order.end());
  if (rank % 3 == 2) std::shuffle(order.begin(), order.end(), std::mt19937(rank));
  return order;
}

class GradientBucketsRanks : public ::testing::TestWithParam<int> {};

TEST_P(GradientBucketsRanks, EqualPlainAllReducesOfEachGradient) {
  for (bool average : {true, false}) {
    RunRanks(GetParam(), [&](Communicator& comm) {
      GradientBucketsOptions options = SmallCaps();
      options.average = average;
      auto buckets = MakeBuckets(&comm, options);
      ASSERT_NE(buckets, nullptr);
      Gradients grads(kSizes, comm.rank());
      grads.RegisterAll(*buckets);
      ASSERT_GE(buckets->Layout().size(), 3u);
      for (int iteration = 0; iteration < 2; ++iteration) {
        Gradients plain(kSizes, comm.rank() + iteration);
        grads.Fill(comm.rank() + iteration);
        for (std::size_t i = 0; i < kSizes.size(); ++i) {
          const ReduceOp op = average ? ReduceOp::kAvg : ReduceOp::kSum;
          ASSERT_TRUE(comm.AllReduce(plain.View(i), op)->Wait().ok());
        }
        for (std::size_t i : MarkOrder(comm.rank(), kSizes.size())) {
          ASSERT_TRUE(buckets->MarkReady(i).ok());
        }
        const Status finish = buckets->Finish();
        ASSERT_TRUE(finish.ok()) << finish;
        ASSERT_EQ(grads.values, plain.values)
            << "rank " << comm.rank() << ", average " << average << ", iteration " << iteration;
      }
    });
  }
}

// Half the gradients moved into their buckets: those are computed and averaged there, the
// others as before, with the same results as plain all-reduces; the moved ones' registered
// tensors are left alone.
TEST_P(GradientBucketsRanks, GradientsInTheirBucketsAverageWithoutCopies) {
  RunRanks(GetParam(), [&](Communicator& comm) {
    auto buckets = MakeBuckets(&comm, SmallCaps());
    ASSERT_NE(buckets, nullptr);
    Gradients grads(kSizes, comm.rank());
    grads.RegisterAll(*buckets);
    const Gradients registered = grads;
    std::vector<TensorView> views(kSizes.size());
    for (std::size_t i = 0; i < kSizes.size(); i += 2) {
      auto view = buckets->GradientInBucket(i);
      ASSERT_TRUE(view.ok()) << view.status();
      ASSERT_EQ(view->numel, kSizes[i]);
      // It starts with the gradient's values.
      const float* data = static_cast<const float*>(view->data);
      ASSERT_TRUE(std::equal(data, data + kSizes[i], grads.values[i].begin()));
      views[i] = *view;
    }
    for (int iteration = 1; iteration <= 2; ++iteration) {
      Gradients plain(kSizes, comm.rank() + iteration);
      for (std::size_t i = 0; i < kSizes.size(); ++i) {
        ASSERT_TRUE(comm.AllReduce(plain.View(i), ReduceOp::kAvg)->Wait().ok());
      }
      const Gradients fresh(kSizes, comm.rank() + iteration);
      for (std::size_t i : MarkOrder(comm.rank(), kSizes.size())) {
        if (i % 2 == 0) {
          std::copy(fresh.values[i].begin(), fresh.values[i].end(),
                    static_cast<float*>(views[i].data));
        } else {
          grads.values[i] = fresh.values[i];
        }
        ASSERT_TRUE(buckets->MarkReady(i).ok());
      }
      const Status finish = buckets->Finish();
      ASSERT_TRUE(finish.ok()) << finish;
      for (std::size_t i = 0; i < kSizes.size(); ++i) {
        const float* got =
            i % 2 == 0 ? static_cast<const float*>(views[i].data) : grads.values[i].data();
        ASSERT_TRUE(std::equal(got, got + kSizes[i], plain.values[i].begin()))
            << "gradient " << i << ", rank " << comm.rank() << ", iteration " << iteration;
        if (i % 2 == 0 && views[i].data != grads.values[i].data()) {
          ASSERT_EQ(grads.values[i], registered.values[i]) << "gradient " << i;
        }
      }
    }
  });
}

// A parameter that took no part on some ranks (MarkUnused) counts as zeros there: every rank
// gets the average of what the others gave, in place, copied and in-bucket gradients alike.
TEST_P(GradientBucketsRanks, UnusedGradientsCountAsZeros) {
  RunRanks(GetParam(), [&](Communicator& comm) {
    // A first bucket of gradient 8 alone (all-reduced in place), then {7, 6}, {5, 4, 3} and
    // {2, 1, 0}; gradient 1 lives in its bucket.
    GradientBucketsOptions options = SmallCaps();
    options.first_cap_bytes = 4;
    auto buckets = MakeBuckets(&comm, options);
    ASSERT_NE(buckets, nullptr);
    Gradients grads(kSizes, comm.rank());
    grads.RegisterAll(*buckets);
    ASSERT_TRUE(buckets->Layout()[0].in_place);
    auto in_bucket = buckets->GradientInBucket(1);  // starts with gradient 1's values
    ASSERT_TRUE(in_bucket.ok()) << in_bucket.status();
    // Rank r leaves out gradient g when (g + r) % 3 == 0 (gradient 8 on rank 1).
    auto unused = [](std::size_t g, int rank) { return (g + rank) % 3 == 0; };
    Gradients plain(kSizes, comm.rank());
    for (std::size_t g = 0; g < kSizes.size(); ++g) {
      if (unused(g, comm.rank())) std::fill(plain.values[g].begin(), plain.values[g].end(), 0.0f);
      ASSERT_TRUE(comm.AllReduce(plain.View(g), ReduceOp::kAvg)->Wait().ok());
    }
    std::vector<float*> data(kSizes.size());
    for (std::size_t g = 0; g < kSizes.size(); ++g) data[g] = grads.values[g].data();
    data[1] = static_cast<float*>(in_bucket->data);
    for (std::size_t g = kSizes.size(); g-- > 0;) {
      const Status marked = unused(g, comm.rank()) ? buckets->MarkUnused(g) : buckets->MarkReady(g);
      ASSERT_TRUE(marked.ok()) << marked;
    }
    const Status finish = buckets->Finish();
    ASSERT_TRUE(finish.ok()) << finish;
    for (std::size_t g = 0; g < kSizes.size(); ++g) {
      ASSERT_TRUE(std::equal(data[g], data[g] + kSizes[g], plain.values[g].begin()))
          << "gradient " << g << ", rank " << comm.rank();
    }
  });
}

TEST_P(GradientBucketsRanks, BucketsBeforeTheLastAreInFlightBeforeFinish) {
  RunRanks(GetParam(), [&](Communicator& comm) {
    auto buckets = MakeBuckets(&comm, SmallCaps());
    ASSERT_NE(buckets, nullptr);
    Gradients grads(kSizes, comm.rank());
    grads.RegisterAll(*buckets);
    const std::size_t count = buckets->Layout().size();
    // Gradient 0 is the last one backward produces; its bucket is the last.
    for (std::size_t i = kSizes.size(); i-- > 1;) ASSERT_TRUE(buckets->MarkReady(i).ok());
    EXPECT_EQ(buckets->stats().issued, count - 1);
    ASSERT_TRUE(buckets->MarkReady(std::size_t{0}).ok());
    ASSERT_TRUE(buckets->Finish().ok());
    EXPECT_EQ(buckets->stats().issued_before_finish, count);
    EXPECT_EQ(buckets->stats().iterations, 1u);
  });
}

TEST_P(GradientBucketsRanks, Bfloat16OnTheWireStaysWithinItsRounding) {
  const int world_size = GetParam();
  const std::size_t n = 5000;
  auto input = [](int rank, std::size_t i) {
    return static_cast<float>(std::sin(0.37 * i + rank) * (1 + i % 7));
  };
  RunRanks(world_size, [&](Communicator& comm) {
    GradientBucketsOptions options = SmallCaps();
    options.wire_dtype = WireDType::kBFloat16;
    auto buckets = MakeBuckets(&comm, options);
    ASSERT_NE(buckets, nullptr);
    std::vector<float> a(n), b(n / 2);
    for (std::size_t i = 0; i < n; ++i) a[i] = input(comm.rank(), i);
    for (std::size_t i = 0; i < n / 2; ++i) b[i] = input(comm.rank(), n + i);
    ASSERT_TRUE(buckets->Register("a", {a.data(), DType::kFloat32, a.size()}).ok());
    ASSERT_TRUE(buckets->Register("b", {b.data(), DType::kFloat32, b.size()}).ok());
    ASSERT_TRUE(buckets->MarkReady("b").ok());
    ASSERT_TRUE(buckets->MarkReady("a").ok());
    ASSERT_TRUE(buckets->Finish().ok());
    for (std::size_t i = 0; i < n + n / 2; ++i) {
      double exact = 0, largest = 0;
      for (int r = 0; r < world_size; ++r) {
        exact += input(r, i) / world_size;
        largest = std::max(largest, std::abs(static_cast<double>(input(r, i))));
      }
      const float got = i < n ? a[i] : b[i - n];
      // A bfloat16 rounding moves a value by at most 2^-8 of it: once for each input, and once
      // or twice more for the sum and the average.
      ASSERT_LE(std::abs(got - exact), 3 * 0x1p-8 * largest) << "element " << i;
    }
  });
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, GradientBucketsRanks, ::testing::Values(1, 2, 3, 4),
                         [](const ::testing::TestParamInfo<int>& world) {
                           return "world" + std::to_string(world.param);
                         });

}  // namespace
}  // namespace train::testing
