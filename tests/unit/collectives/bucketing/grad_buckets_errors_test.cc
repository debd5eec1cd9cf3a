// What GradientBuckets refuses, and what its errors say.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gradients.h"
#include "recording_communicator.h"
#include "train/device.h"

namespace train::testing {
namespace {

using ::testing::HasSubstr;

TEST(GradientBucketsErrors, CreateChecksItsArguments) {
  EXPECT_EQ(GradientBuckets::Create(nullptr).status().code(), StatusCode::kInvalidArgument);
  RecordingCommunicator comm(/*hold=*/false);
  GradientBucketsOptions options;
  options.cap_bytes = 0;
  auto buckets = GradientBuckets::Create(&comm, options);
  EXPECT_EQ(buckets.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(buckets.status().message(), HasSubstr("cap_bytes (0)"));
}

// Buckets of a communicator on CUDA memory live on its GPU: without one, Create says why.
TEST(GradientBucketsErrors, CudaBucketsWithoutAUsableGpuSayWhy) {
  const Result<std::vector<CudaDevice>> devices = ListCudaDevices();
  if (devices.ok() && !devices->empty()) {
    GTEST_SKIP() << "a GPU is visible: grad_buckets_gpu_test covers CUDA buckets";
  }
  RecordingCommunicator comm(/*hold=*/false);
  comm.mutable_options().device = Device::kCuda;
  auto buckets = GradientBuckets::Create(&comm);
  ASSERT_FALSE(buckets.ok());
  EXPECT_THAT(buckets.status().code(),
              ::testing::AnyOf(StatusCode::kUnavailable, StatusCode::kFailedPrecondition));
  EXPECT_THAT(buckets.status().message(), HasSubstr("GradientBuckets"));
  EXPECT_THAT(buckets.status().message(),
              ::testing::AnyOf(HasSubstr("CUDA_VISIBLE_DEVICES"), HasSubstr("without CUDA")));
}

TEST(GradientBucketsErrors, RegisterRefusesDuplicatesAndUnsupportedTensors) {
  RecordingCommunicator comm(/*hold=*/false);
  GradientBucketsOptions options;
  options.wire_dtype = WireDType::kBFloat16;
  auto buckets = MakeBuckets(&comm, options);
  std::vector<float> f(4);
  std::vector<std::int8_t> small(4);
  std::vector<std::int64_t> counts(4);
  ASSERT_TRUE(buckets->Register("w", {f.data(), DType::kFloat32, 4}).ok());

  auto again = buckets->Register("w", {f.data(), DType::kFloat32, 4});
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("\"w\""));

  auto int8 = buckets->Register("q", {small.data(), DType::kInt8, 4});
  EXPECT_EQ(int8.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(int8.status().message(), HasSubstr("int8"));

  auto compressed_ints = buckets->Register("n", {counts.data(), DType::kInt64, 4});
  EXPECT_EQ(compressed_ints.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(compressed_ints.status().message(), HasSubstr("int64"));
  EXPECT_THAT(compressed_ints.status().message(), HasSubstr("bfloat16"));

  auto cuda = buckets->Register("c", {f.data(), DType::kFloat32, 4, Device::kCuda, 0});
  EXPECT_EQ(cuda.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(cuda.status().message(), HasSubstr("CUDA"));

  auto no_data = buckets->Register("z", {nullptr, DType::kFloat32, 4});
  EXPECT_EQ(no_data.status().code(), StatusCode::kInvalidArgument);
}

TEST(GradientBucketsErrors, RegisterAfterTheLayoutIsFixed) {
  RecordingCommunicator comm(/*hold=*/false);
  auto buckets = MakeBuckets(&comm, {});
  Gradients grads({4, 4});
  grads.RegisterAll(*buckets);
  ASSERT_TRUE(buckets->MarkReady(1).ok());
  auto late = buckets->Register("late", grads.View(0));
  EXPECT_EQ(late.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.status().message(), HasSubstr("before the first backward pass"));
}

TEST(GradientBucketsErrors, MarkReadyTwiceNamesTheGradient) {
  RecordingCommunicator comm(/*hold=*/false);
  auto buckets = MakeBuckets(&comm, {});
  Gradients grads({4, 4});
  grads.RegisterAll(*buckets);
  ASSERT_TRUE(buckets->MarkReady(1).ok());
  const Status twice = buckets->MarkReady(Gradients::Name(1));
  EXPECT_EQ(twice.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(twice.message(), HasSubstr("\"layer1.weight\""));
  EXPECT_THAT(twice.message(), HasSubstr("twice"));
  ASSERT_TRUE(buckets->MarkReady(0).ok());
  EXPECT_TRUE(buckets->Finish().ok());
  EXPECT_TRUE(buckets->MarkReady(1).ok());  // a new iteration
}

TEST(GradientBucketsErrors, UnknownGradients) {
  RecordingCommunicator comm(/*hold=*/false);
  auto buckets = MakeBuckets(&comm, {});
  Gradients grads({4});
  grads.RegisterAll(*buckets);
  const Status by_name = buckets->MarkReady("layer9.bias");
  EXPECT_EQ(by_name.code(), StatusCode::kNotFound);
  EXPECT_THAT(by_name.message(), HasSubstr("layer9.bias"));
  EXPECT_EQ(buckets->MarkReady(std::size_t{3}).code(), StatusCode::kOutOfRange);
}

TEST(GradientBucketsErrors, FinishNamesTheGradientsNotMarked) {
  RecordingCommunicator comm(/*hold=*/false);
  GradientBucketsOptions options;
  options.first_cap_bytes = 16;
  options.cap_bytes = 16;
  auto buckets = MakeBuckets(&comm, options);
  Gradients grads({4, 4, 4});
  grads.RegisterAll(*buckets);
  ASSERT_TRUE(buckets->MarkReady(2).ok());
  ASSERT_TRUE(buckets->MarkReady(0).ok());
  const Status finish = buckets->Finish();
  EXPECT_EQ(finish.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(finish.message(),
              HasSubstr("1 gradient(s) were not marked ready: \"layer1.weight\""));
  EXPECT_THAT(finish.message(), HasSubstr("MarkUnused"));
  EXPECT_EQ(comm.calls().size(), 1u);  // bucket 0 only: the later ones wait for bucket 1

  // The next iteration starts clean.
  for (std::size_t i : {2u, 1u, 0u}) ASSERT_TRUE(buckets->MarkReady(i).ok());
  EXPECT_TRUE(buckets->Finish().ok());
  EXPECT_EQ(comm.calls().size(), 4u);
}

TEST(GradientBucketsErrors, AFailedAllReduceFailsFinishNamingItsBucket) {
  RecordingCommunicator comm(/*hold=*/true);
  GradientBucketsOptions options;
  options.first_cap_bytes = 16;
  options.cap_bytes = 16;
  auto buckets = MakeBuckets(&comm, options);
  Gradients grads({4, 4});
  grads.RegisterAll(*buckets);
  ASSERT_TRUE(buckets->MarkReady(1).ok());
  ASSERT_TRUE(buckets->MarkReady(0).ok());
  comm.Release(/*fail_first=*/1);
  const Status finish = buckets->Finish();
  EXPECT_EQ(finish.code(), StatusCode::kUnavailable);
  EXPECT_THAT(finish.message(), HasSubstr("bucket 0 (1 gradients, float32 x 4)"));
  EXPECT_THAT(finish.message(), HasSubstr("rank 1 exited"));
  EXPECT_EQ(buckets->stats().iterations, 0u);
}

TEST(GradientBucketsErrors, GradientInBucketSaysWhenItCannot) {
  RecordingCommunicator comm(/*hold=*/false);
  GradientBucketsOptions options;
  options.wire_dtype = WireDType::kBFloat16;
  auto compressed = MakeBuckets(&comm, options);
  Gradients grads({4, 4});
  grads.RegisterAll(*compressed);
  auto view = compressed->GradientInBucket(0);
  EXPECT_EQ(view.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(view.status().message(), HasSubstr("bfloat16"));
  EXPECT_THAT(view.status().message(), HasSubstr(Gradients::Name(0)));
  EXPECT_EQ(compressed->GradientInBucket(2).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(compressed->GradientInBucket("nope").status().code(), StatusCode::kNotFound);

  auto plain = MakeBuckets(&comm, {});
  Gradients more({4, 4});
  more.RegisterAll(*plain);
  ASSERT_TRUE(plain->MarkReady(1).ok());
  auto marked = plain->GradientInBucket(1);
  EXPECT_EQ(marked.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(marked.status().message(), HasSubstr("marked ready"));
  ASSERT_TRUE(plain->MarkReady(std::size_t{0}).ok());
  ASSERT_TRUE(plain->Finish().ok());
  auto after = plain->GradientInBucket(Gradients::Name(1));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(after->data, more.View(1).data);
  auto again = plain->GradientInBucket(1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->data, after->data);
}

TEST(GradientBucketsErrors, WireDTypeNames) {
  EXPECT_EQ(WireDTypeName(WireDType::kBFloat16), "bfloat16");
  EXPECT_EQ(*ParseWireDType("float16"), WireDType::kFloat16);
  EXPECT_EQ(*ParseWireDType("none"), WireDType::kNone);
  EXPECT_THAT(ParseWireDType("fp8").status().message(), HasSubstr("none, bfloat16 or float16"));
}

}  // namespace
}  // namespace train::testing
