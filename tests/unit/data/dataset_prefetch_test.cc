// Reading ahead: order, the bound on queued batches, errors, concurrency and shutdown.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../scratch_dir.h"
#include "dataset_test_files.h"
#include "train/dataset.h"

namespace train {
namespace {

using std::chrono::milliseconds;
using ::testing::AllOf;
using ::testing::HasSubstr;

class DatasetPrefetchTest : public ::testing::Test {
 protected:
  std::unique_ptr<Dataset> Open(std::uint64_t rows, std::size_t depth) {
    testing::WriteMnistLike(path_, rows);
    DatasetOptions options;
    options.prefetch_depth = depth;
    auto dataset = Dataset::Open(path_, options);
    EXPECT_TRUE(dataset.ok()) << dataset.status();
    return dataset.ok() ? std::move(dataset).value() : nullptr;
  }

  static std::vector<std::uint64_t> RandomBatch(std::mt19937_64& rng, std::size_t size,
                                                std::uint64_t rows) {
    std::vector<std::uint64_t> indices(size);
    for (auto& index : indices) index = rng() % rows;
    return indices;
  }

  testing::ScratchDir dir_;
  std::string path_ = dir_ / "mnist.h5";
};

TEST_F(DatasetPrefetchTest, NextReturnsBatchesInTheOrderQueued) {
  auto dataset = Open(500, 4);
  ASSERT_NE(dataset, nullptr);
  std::mt19937_64 rng(1);
  std::vector<std::vector<std::uint64_t>> batches;
  for (int i = 0; i < 4; ++i) {
    batches.push_back(RandomBatch(rng, 10 + 30 * i, 500));
    ASSERT_TRUE(dataset->Prefetch(batches.back()).ok());
  }
  EXPECT_EQ(dataset->queued(), 4u);
  for (int step = 0; step < 20; ++step) {  // steady state: take one, queue one
    Result<Batch> batch = dataset->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    testing::ExpectMnistRows(*batch, batches.front());
    batches.erase(batches.begin());
    batches.push_back(RandomBatch(rng, 64, 500));
    ASSERT_TRUE(dataset->Prefetch(batches.back()).ok());
  }
  EXPECT_EQ(dataset->queued(), 4u);
}

TEST_F(DatasetPrefetchTest, NextWithNothingQueuedIsFailedPrecondition) {
  auto dataset = Open(10, 2);
  ASSERT_NE(dataset, nullptr);
  Result<Batch> batch = dataset->Next();
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(batch.status().message(), HasSubstr("call Prefetch"));
  ASSERT_TRUE(dataset->Prefetch({1}).ok());
  ASSERT_TRUE(dataset->Next().ok());
  EXPECT_EQ(dataset->Next().status().code(), StatusCode::kFailedPrecondition);  // all taken
}

TEST_F(DatasetPrefetchTest, PrefetchBlocksWhileDepthBatchesAreQueued) {
  auto dataset = Open(100, 2);
  ASSERT_NE(dataset, nullptr);
  ASSERT_TRUE(dataset->Prefetch({1}).ok());
  ASSERT_TRUE(dataset->Prefetch({2}).ok());
  const Status full = dataset->Prefetch({3}, milliseconds(30));
  EXPECT_EQ(full.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(full.message(), AllOf(HasSubstr("prefetch_depth 2"), HasSubstr("call Next()")));
  EXPECT_EQ(dataset->queued(), 2u);

  std::atomic<bool> queued_third{false};
  std::thread producer([&] {
    EXPECT_TRUE(dataset->Prefetch({3}).ok());
    queued_third = true;
  });
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(queued_third) << "Prefetch returned while prefetch_depth batches were queued";
  Result<Batch> first = dataset->Next();  // makes room
  producer.join();
  EXPECT_TRUE(queued_third);
  ASSERT_TRUE(first.ok()) << first.status();
  testing::ExpectMnistRows(*first, {1});
  for (std::uint64_t expected : {2, 3}) {
    Result<Batch> batch = dataset->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    testing::ExpectMnistRows(*batch, {expected});
  }
}

TEST_F(DatasetPrefetchTest, BackgroundReadErrorsComeBackFromNext) {
  auto dataset = Open(100, 2);
  ASSERT_NE(dataset, nullptr);
  ASSERT_TRUE(dataset->Prefetch({7, 3}).ok());
  ASSERT_TRUE(dataset->Next().ok());

  std::filesystem::remove(path_);
  // Indices are fine; the read fails. Row 90 is in blocks not read yet: rows of blocks kept in
  // memory would still read.
  ASSERT_TRUE(dataset->Prefetch({90}).ok());
  Result<Batch> lost = dataset->Next();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(lost.status().message(), HasSubstr(path_));

  testing::WriteMnistLike(path_, 100);  // back: later batches read again
  ASSERT_TRUE(dataset->Prefetch({9}).ok());
  Result<Batch> batch = dataset->Next();
  ASSERT_TRUE(batch.ok()) << batch.status();
  testing::ExpectMnistRows(*batch, {9});
}

TEST_F(DatasetPrefetchTest, ReadsFromOtherThreadsRunBesidePrefetch) {
  auto dataset = Open(2000, 3);
  ASSERT_NE(dataset, nullptr);
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int i = 0; i < 15; ++i) {
        const std::vector<std::uint64_t> indices = RandomBatch(rng, 128, 2000);
        Result<Batch> batch = dataset->Read(indices);
        ASSERT_TRUE(batch.ok()) << batch.status();
        testing::ExpectMnistRows(*batch, indices);
      }
    });
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 15; ++i) {
    const std::vector<std::uint64_t> indices = RandomBatch(rng, 128, 2000);
    ASSERT_TRUE(dataset->Prefetch(indices).ok());
    Result<Batch> batch = dataset->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    testing::ExpectMnistRows(*batch, indices);
  }
  for (std::thread& reader : readers) reader.join();
}

TEST_F(DatasetPrefetchTest, DestroyingWithQueuedReadsStopsPromptly) {
  auto dataset = Open(20000, 8);
  ASSERT_NE(dataset, nullptr);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(dataset->Prefetch(RandomBatch(rng, 1024, 20000)).ok());
  const auto start = std::chrono::steady_clock::now();
  dataset.reset();  // waits for the read in progress only
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace train
