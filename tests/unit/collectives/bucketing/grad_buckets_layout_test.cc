// How gradients are grouped: reverse registration order, caps, one dtype per bucket.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gradients.h"
#include "recording_communicator.h"

namespace train::testing {
namespace {

using ::testing::ElementsAre;

GradientBucketsOptions SmallCaps(std::size_t first_cap, std::size_t cap) {
  GradientBucketsOptions options;
  options.first_cap_bytes = first_cap;
  options.cap_bytes = cap;
  return options;
}

TEST(GradientBucketsLayout, DefaultsAre25MiBWithA1MiBFirstBucket) {
  GradientBucketsOptions options;
  EXPECT_EQ(options.cap_bytes, 25u << 20);
  EXPECT_EQ(options.first_cap_bytes, 1u << 20);
  EXPECT_TRUE(options.average);
  EXPECT_EQ(options.wire_dtype, WireDType::kNone);
}

TEST(GradientBucketsLayout, FillsInReverseOrderWithASmallFirstBucket) {
  RecordingCommunicator comm(/*hold=*/false);
  auto buckets = MakeBuckets(&comm, SmallCaps(100, 400));
  Gradients grads({20, 20, 20, 20, 20, 20});  // 80 bytes each
  grads.RegisterAll(*buckets);
  const std::vector<GradientBucket> layout = buckets->Layout();
  ASSERT_EQ(layout.size(), 2u);
  EXPECT_THAT(layout[0].gradients, ElementsAre(5, 4));        // 160 bytes reach the first cap
  EXPECT_THAT(layout[1].gradients, ElementsAre(3, 2, 1, 0));  // 320 of 400: the rest
  EXPECT_EQ(layout[1].numel, 80u);
  EXPECT_EQ(layout[1].wire_bytes, 320u);
  EXPECT_FALSE(layout[0].in_place);
  EXPECT_EQ(buckets->stats().buckets, 2u);
}

TEST(GradientBucketsLayout, ClosesEachBucketAtItsCap) {
  RecordingCommunicator comm(/*hold=*/false);
  auto buckets = MakeBuckets(&comm, SmallCaps(40, 160));
  Gradients grads(std::vector<std::size_t>(9, 10));  // 40 bytes each
  grads.RegisterAll(*buckets);
  const std::vector<GradientBucket> layout = buckets->Layout();
  ASSERT_EQ(layout.size(), 3u);
  EXPECT_THAT(layout[0].gradients, ElementsAre(8));
  EXPECT_THAT(layout[1].gradients, ElementsAre(7, 6, 5, 4));
  EXPECT_THAT(layout[2].gradients, ElementsAre(3, 2, 1, 0));
}

TEST(GradientBucketsLayout, AGradientOverTheCapIsAllReducedInPlace) {
  RecordingCommunicator comm(/*hold=*/false);
  auto buckets = MakeBuckets(&comm, SmallCaps(64, 64));
  Gradients grads({4, 1000, 4});
  grads.RegisterAll(*buckets);
  const std::vector<GradientBucket> layout = buckets->Layout();
  ASSERT_EQ(layout.size(), 2u);
  EXPECT_THAT(layout[0].gradients, ElementsAre(2, 1));
  EXPECT_THAT(layout[1].gradients, ElementsAre(0));
  EXPECT_TRUE(layout[1].in_place);

  for (std::size_t i : {2u, 1u, 0u}) ASSERT_TRUE(buckets->MarkReady(i).ok());
  const auto calls = comm.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].in.data, grads.values[0].data());  // no copy
  EXPECT_NE(calls[0].in.data, grads.values[1].data());
  ASSERT_TRUE(buckets->Finish().ok());
}

TEST(GradientBucketsLayout, KeepsOneDTypePerBucket) {
  RecordingCommunicator comm(/*hold=*/false);
  auto buckets = MakeBuckets(&comm, SmallCaps(1 << 20, 1 << 20));
  std::vector<float> f(8);
  std::vector<double> d(8);
  std::vector<std::int32_t> n(8);
  ASSERT_TRUE(buckets->Register("a", {f.data(), DType::kFloat32, 4}).ok());
  ASSERT_TRUE(buckets->Register("b", {d.data(), DType::kFloat64, 4}).ok());
  ASSERT_TRUE(buckets->Register("c", {f.data() + 4, DType::kFloat32, 4}).ok());
  ASSERT_TRUE(buckets->Register("d", {n.data(), DType::kInt32, 8}).ok());
  ASSERT_TRUE(buckets->Register("e", {d.data() + 4, DType::kFloat64, 4}).ok());
  const std::vector<GradientBucket> layout = buckets->Layout();
  ASSERT_EQ(layout.size(), 3u);
  // Ordered by when their last gradient comes in backward (e, d, c, b, a).
  EXPECT_THAT(layout[0].gradients, ElementsAre(3));
  EXPECT_EQ(layout[0].dtype, DType::kInt32);
  EXPECT_THAT(layout[1].gradients, ElementsAre(4, 1));
  EXPECT_EQ(layout[1].dtype, DType::kFloat64);
  EXPECT_THAT(layout[2].gradients, ElementsAre(2, 0));
  EXPECT_EQ(layout[2].dtype, DType::kFloat32);
}

TEST(GradientBucketsLayout, WireCompressionHalvesFloat32Buckets) {
  RecordingCommunicator comm(/*hold=*/false);
  GradientBucketsOptions options = SmallCaps(1 << 20, 1 << 20);
  options.wire_dtype = WireDType::kBFloat16;
  auto buckets = MakeBuckets(&comm, options);
  Gradients grads({100});
  grads.RegisterAll(*buckets);
  const std::vector<GradientBucket> layout = buckets->Layout();
  ASSERT_EQ(layout.size(), 1u);
  EXPECT_EQ(layout[0].wire_bytes, 200u);
  EXPECT_FALSE(layout[0].in_place);  // converted into a buffer
  EXPECT_EQ(buckets->stats().wire_bytes, 200u);
}

TEST(GradientBucketsLayout, EmptyAndZeroSizedGradients) {
  RecordingCommunicator comm(/*hold=*/false);
  auto buckets = MakeBuckets(&comm, {});
  EXPECT_TRUE(buckets->Layout().empty());
  EXPECT_TRUE(buckets->Finish().ok());

  auto more = MakeBuckets(&comm, {});
  Gradients grads({0, 3, 0});
  grads.RegisterAll(*more);
  ASSERT_EQ(more->Layout().size(), 1u);
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(more->MarkReady(i).ok());
  EXPECT_TRUE(more->Finish().ok());
}

}  // namespace
}  // namespace train::testing
