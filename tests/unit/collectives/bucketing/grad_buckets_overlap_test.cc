// When buckets are all-reduced: at the mark that completes them, in bucket order, before
// Finish; and what Finish writes back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <thread>

#include "gradients.h"
#include "recording_communicator.h"

namespace train::testing {
namespace {

// Six gradients of 80 bytes; caps give buckets {5,4}, {3,2}, {1,0}.
GradientBucketsOptions ThreeBuckets() {
  GradientBucketsOptions options;
  options.first_cap_bytes = 160;
  options.cap_bytes = 160;
  return options;
}

TEST(GradientBucketsOverlap, IssuesEachBucketWhenItsLastGradientIsMarked) {
  RecordingCommunicator comm(/*hold=*/true);
  auto buckets = MakeBuckets(&comm, ThreeBuckets());
  Gradients grads(std::vector<std::size_t>(6, 20));
  grads.RegisterAll(*buckets);
  ASSERT_EQ(buckets->Layout().size(), 3u);

  const std::size_t issued_after[] = {0, 1, 1, 2, 2, 3};  // after marking 5, 4, ..., 0
  for (std::size_t k = 0; k < 6; ++k) {
    ASSERT_TRUE(buckets->MarkReady(Gradients::Name(5 - k)).ok());
    EXPECT_EQ(comm.calls().size(), issued_after[k]) << "after marking gradient " << 5 - k;
    EXPECT_EQ(buckets->stats().issued, issued_after[k]);
  }
  // Issued, not waited for: the all-reduces are still in flight before Finish.
  for (const auto& call : comm.calls()) EXPECT_FALSE(call.work->Done());
  comm.Release();
  ASSERT_TRUE(buckets->Finish().ok());
  const GradientBucketStats stats = buckets->stats();
  EXPECT_EQ(stats.issued_before_finish, 3u);
  EXPECT_EQ(stats.iterations, 1u);
  EXPECT_EQ(stats.issued, 0u);
  EXPECT_EQ(stats.wire_bytes, 480u);
}

TEST(GradientBucketsOverlap, OutOfOrderMarksIssueInBucketOrder) {
  RecordingCommunicator comm(/*hold=*/true);
  auto buckets = MakeBuckets(&comm, ThreeBuckets());
  Gradients grads(std::vector<std::size_t>(6, 20));
  grads.RegisterAll(*buckets);
  const std::vector<GradientBucket> layout = buckets->Layout();

  // Forward order: the last bucket completes first but must wait for the two before it.
  for (std::size_t i : {0u, 1u, 3u, 2u}) ASSERT_TRUE(buckets->MarkReady(i).ok());
  EXPECT_TRUE(comm.calls().empty());
  ASSERT_TRUE(buckets->MarkReady(4).ok());
  EXPECT_TRUE(comm.calls().empty());
  ASSERT_TRUE(buckets->MarkReady(5).ok());  // completes bucket 0: all three go, in order
  const auto calls = comm.calls();
  ASSERT_EQ(calls.size(), 3u);
  std::vector<void*> issued;
  for (const auto& call : calls) issued.push_back(call.in.data);
  EXPECT_EQ(std::set<void*>(issued.begin(), issued.end()).size(), 3u);
  comm.Release();
  ASSERT_TRUE(buckets->Finish().ok());
}

TEST(GradientBucketsOverlap, FinishWritesTheSumsBackAndStartsTheNextIteration) {
  RecordingCommunicator comm(/*hold=*/false, /*simulated_ranks=*/3);
  GradientBucketsOptions options = ThreeBuckets();
  options.average = false;
  options.timeout = std::chrono::seconds(7);
  auto buckets = MakeBuckets(&comm, options);
  Gradients grads({20, 20, 20, 3, 20, 20, 1000});
  grads.RegisterAll(*buckets);
  const Gradients expected({20, 20, 20, 3, 20, 20, 1000});

  for (int iteration = 1; iteration <= 2; ++iteration) {
    for (std::size_t i : {6u, 2u, 5u, 0u, 4u, 3u, 1u}) ASSERT_TRUE(buckets->MarkReady(i).ok());
    ASSERT_TRUE(buckets->Finish().ok());
    const double factor = std::pow(3.0, iteration);
    for (std::size_t i = 0; i < grads.values.size(); ++i) {
      for (std::size_t j = 0; j < grads.values[i].size(); ++j) {
        ASSERT_EQ(grads.values[i][j], expected.values[i][j] * factor)
            << Gradients::Name(i) << "[" << j << "], iteration " << iteration;
      }
    }
  }
  for (const auto& call : comm.calls()) {
    EXPECT_EQ(call.op, ReduceOp::kSum);
    EXPECT_EQ(call.timeout, std::chrono::seconds(7));
  }
  EXPECT_EQ(buckets->stats().iterations, 2u);
}

// Finish writes a bucket's results as soon as that bucket completed, while it still waits for
// the buckets after it.
TEST(GradientBucketsOverlap, FinishWritesEachBucketBackWhileLaterOnesAreInFlight) {
  RecordingCommunicator comm(/*hold=*/true, /*simulated_ranks=*/2);
  GradientBucketsOptions options = ThreeBuckets();
  options.average = false;
  auto buckets = MakeBuckets(&comm, options);
  Gradients grads(std::vector<std::size_t>(6, 20));
  grads.RegisterAll(*buckets);
  const Gradients expected(std::vector<std::size_t>(6, 20));
  for (std::size_t i = 6; i-- > 0;) ASSERT_TRUE(buckets->MarkReady(i).ok());
  ASSERT_EQ(comm.calls().size(), 3u);

  std::thread finisher([&] { EXPECT_TRUE(buckets->Finish().ok()); });
  comm.calls()[0].work->Complete();  // bucket 0 holds gradients 5 and 4
  // Finish waits for bucket 1 only after it handled bucket 0; once it waits there, what it
  // wrote of bucket 0 may be read here (RecordedWork::waits orders it).
  const std::shared_ptr<RecordedWork> held = comm.calls()[1].work;
  for (int spins = 0; spins < 20000 && held->waits() == 0; ++spins) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_GT(held->waits(), 0) << "Finish never waited for bucket 1";
  const auto doubled = [&](std::size_t g) {
    return grads.values[g][3] == 2 * expected.values[g][3] && expected.values[g][3] != 0;
  };
  EXPECT_TRUE(doubled(5) && doubled(4)) << "bucket 0 was not written while bucket 1 was held";
  EXPECT_EQ(grads.values[0], expected.values[0]);  // bucket 2: not yet written
  comm.Release();
  finisher.join();
  for (std::size_t g = 0; g < 6; ++g) {
    for (std::size_t j = 0; j < 20; ++j) ASSERT_EQ(grads.values[g][j], 2 * expected.values[g][j]);
  }
}

TEST(GradientBucketsOverlap, AveragesWithTheAvgReduction) {
  RecordingCommunicator comm(/*hold=*/false, /*simulated_ranks=*/4);
  auto buckets = MakeBuckets(&comm, ThreeBuckets());
  Gradients grads(std::vector<std::size_t>(6, 20));
  grads.RegisterAll(*buckets);
  const Gradients expected(std::vector<std::size_t>(6, 20));
  for (std::size_t i = 6; i-- > 0;) ASSERT_TRUE(buckets->MarkReady(i).ok());
  ASSERT_TRUE(buckets->Finish().ok());
  for (const auto& call : comm.calls()) EXPECT_EQ(call.op, ReduceOp::kAvg);
  EXPECT_EQ(grads.values, expected.values);
}

TEST(GradientBucketsOverlap, SixteenBitWireRoundsEachGradientOnce) {
  for (WireDType wire : {WireDType::kBFloat16, WireDType::kFloat16}) {
    RecordingCommunicator comm(/*hold=*/false);
    GradientBucketsOptions options;
    options.wire_dtype = wire;
    auto buckets = MakeBuckets(&comm, options);
    std::vector<float> grad = {1.0f, 1.0f + 0x1p-12f, 3.0f + 0x1p-7f, -0.3f, 1e-3f, 0.0f};
    std::vector<double> grad64 = {1.0, 0.1, -2.5};
    const std::vector<float> before = grad;
    const std::vector<double> before64 = grad64;
    ASSERT_TRUE(buckets->Register("w", {grad.data(), DType::kFloat32, grad.size()}).ok());
    ASSERT_TRUE(buckets->Register("b", {grad64.data(), DType::kFloat64, grad64.size()}).ok());
    ASSERT_TRUE(buckets->MarkReady("b").ok());
    ASSERT_TRUE(buckets->MarkReady("w").ok());
    ASSERT_TRUE(buckets->Finish().ok());
    for (const auto& call : comm.calls()) {
      EXPECT_EQ(call.in.dtype, wire == WireDType::kBFloat16 ? DType::kBFloat16 : DType::kFloat16);
    }
    // bfloat16 keeps 8 significant bits, float16 11: the error is at most half a last place.
    const double ulp = wire == WireDType::kBFloat16 ? 0x1p-8 : 0x1p-11;
    for (std::size_t i = 0; i < grad.size(); ++i) {
      EXPECT_LE(std::abs(grad[i] - before[i]), std::abs(before[i]) * ulp) << i;
    }
    for (std::size_t i = 0; i < grad64.size(); ++i) {
      EXPECT_LE(std::abs(grad64[i] - before64[i]), std::abs(before64[i]) * ulp) << i;
    }
    EXPECT_EQ(grad[0], 1.0f);  // exact values stay exact
    EXPECT_EQ(grad[1], 1.0f);  // rounded to nearest
    if (wire == WireDType::kBFloat16) {
      EXPECT_EQ(grad[2], 3.0f);  // a tie rounds to even
    } else {
      EXPECT_EQ(grad[2], 3.0f + 0x1p-7f);
    }
  }
}

}  // namespace
}  // namespace train::testing
