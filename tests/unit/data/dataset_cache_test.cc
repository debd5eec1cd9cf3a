// The block cache: rows served from memory equal rows read from the file, whatever its bound,
// chunking, compression or layout.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../scratch_dir.h"
#include "data/block_cache.h"
#include "dataset_test_files.h"
#include "train/dataset.h"

namespace train {
namespace {

constexpr std::uint64_t kRows = 700;
constexpr std::size_t kImageRowBytes = 28 * 28;

std::unique_ptr<Dataset> OpenOrDie(const std::string& path, std::size_t cache_bytes,
                                   std::map<std::string, DType> read_as = {}) {
  DatasetOptions options;
  options.chunk_cache_bytes = cache_bytes;
  options.read_as = std::move(read_as);
  auto dataset = Dataset::Open(path, options);
  EXPECT_TRUE(dataset.ok()) << dataset.status();
  return dataset.ok() ? std::move(dataset).value() : nullptr;
}

// Random rows with repeats, in no order.
std::vector<std::uint64_t> RandomRows(std::mt19937_64& rng, std::size_t count) {
  std::uniform_int_distribution<std::uint64_t> row(0, kRows - 1);
  std::vector<std::uint64_t> rows(count);
  for (std::uint64_t& r : rows) r = row(rng);
  return rows;
}

// `indices` read one row per Read from a Dataset that keeps nothing, concatenated.
Batch RowByRow(const std::string& path, const std::vector<std::uint64_t>& indices,
               const std::map<std::string, DType>& read_as = {}) {
  auto dataset = OpenOrDie(path, 0, read_as);
  Batch out;
  for (std::uint64_t index : indices) {
    Result<Batch> row = dataset->Read({index});
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok()) return out;
    for (auto& [name, tensor] : *row) {
      HostTensor& field = out[name];
      if (field.shape.empty()) {
        field = tensor;
      } else {
        ++field.shape[0];
        field.bytes.insert(field.bytes.end(), tensor.bytes.begin(), tensor.bytes.end());
      }
    }
  }
  return out;
}

void ExpectSameBatch(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    const auto other = b.find(name);
    ASSERT_NE(other, b.end()) << name;
    EXPECT_EQ(tensor.dtype, other->second.dtype) << name;
    EXPECT_EQ(tensor.shape, other->second.shape) << name;
    EXPECT_TRUE(tensor.bytes == other->second.bytes) << "field " << name << " differs";
  }
}

class DatasetCacheTest : public ::testing::TestWithParam<hsize_t> {
 protected:
  void SetUp() override { testing::WriteMnistLike(path_, kRows, GetParam()); }

  testing::ScratchDir dir_;
  std::string path_ = dir_ / "mnist.h5";
};

// Images chunked by 1, 16 and 100 rows (gzip); features chunked by 7 (uncompressed); weights
// chunked by 64 (gzip); labels and offsets contiguous.
INSTANTIATE_TEST_SUITE_P(ImageChunkRows, DatasetCacheTest, ::testing::Values(1, 16, 100));

TEST_P(DatasetCacheTest, ReadsFromTheCacheEqualColdReads) {
  auto warm = OpenOrDie(path_, std::size_t{64} << 20);
  ASSERT_NE(warm, nullptr);
  std::mt19937_64 rng(7);
  for (int batch = 0; batch < 5; ++batch) {
    const std::vector<std::uint64_t> rows = RandomRows(rng, 64);
    Result<Batch> first = warm->Read(rows);
    ASSERT_TRUE(first.ok()) << first.status();
    Result<Batch> again = warm->Read(rows);  // every block is kept now
    ASSERT_TRUE(again.ok()) << again.status();
    Result<Batch> cold = OpenOrDie(path_, std::size_t{64} << 20)->Read(rows);
    ASSERT_TRUE(cold.ok()) << cold.status();
    ExpectSameBatch(*again, *cold);
    ExpectSameBatch(*first, *cold);
    testing::ExpectMnistRows(*again, rows);
  }
}

TEST_P(DatasetCacheTest, RandomIndexSetsEqualRowByRowReads) {
  auto dataset = OpenOrDie(path_, std::size_t{64} << 20);
  ASSERT_NE(dataset, nullptr);
  std::mt19937_64 rng(11);
  for (std::size_t count : {1, 2, 31, 256, 900}) {
    const std::vector<std::uint64_t> rows = RandomRows(rng, count);
    Result<Batch> batch = dataset->Read(rows);
    ASSERT_TRUE(batch.ok()) << batch.status();
    testing::ExpectMnistRows(*batch, rows);
    ExpectSameBatch(*batch, RowByRow(path_, rows));
  }
}

TEST_P(DatasetCacheTest, ConvertedRowsAreKeptConverted) {
  const std::map<std::string, DType> read_as = {
      {"images", DType::kFloat32}, {"weights", DType::kFloat16}, {"labels", DType::kBFloat16}};
  auto dataset = OpenOrDie(path_, std::size_t{64} << 20, read_as);
  ASSERT_NE(dataset, nullptr);
  std::mt19937_64 rng(13);
  const std::vector<std::uint64_t> rows = RandomRows(rng, 100);
  ASSERT_TRUE(dataset->Read(rows).ok());
  Result<Batch> warm = dataset->Read(rows);
  ASSERT_TRUE(warm.ok()) << warm.status();
  EXPECT_EQ(warm->at("images").dtype, DType::kFloat32);
  EXPECT_EQ(warm->at("images").data<float>()[3 * kImageRowBytes + 5],
            testing::ImageValue(rows[3], 0, 5));
  ExpectSameBatch(*warm, RowByRow(path_, rows, read_as));
}

// A bound that holds one image block (or none): blocks are evicted between and within reads,
// and the rows still come out right.
TEST_P(DatasetCacheTest, ABoundBelowTheBatchStillReadsCorrectly) {
  const std::size_t one_block = GetParam() * kImageRowBytes;
  for (std::size_t bound : {std::size_t{0}, one_block, 3 * one_block}) {
    auto dataset = OpenOrDie(path_, bound);
    ASSERT_NE(dataset, nullptr);
    std::mt19937_64 rng(17);
    for (int batch = 0; batch < 4; ++batch) {
      const std::vector<std::uint64_t> rows = RandomRows(rng, 128);
      Result<Batch> read = dataset->Read(rows);
      ASSERT_TRUE(read.ok()) << read.status();
      testing::ExpectMnistRows(*read, rows);
    }
  }
}

TEST_P(DatasetCacheTest, PrefetchAndForegroundReadsShareASmallCache) {
  auto dataset = OpenOrDie(path_, 2 * GetParam() * kImageRowBytes);
  ASSERT_NE(dataset, nullptr);
  std::thread foreground([&] {
    std::mt19937_64 rng(19);
    for (int batch = 0; batch < 20; ++batch) {
      const std::vector<std::uint64_t> rows = RandomRows(rng, 32);
      Result<Batch> read = dataset->Read(rows);
      ASSERT_TRUE(read.ok()) << read.status();
      testing::ExpectMnistRows(*read, rows);
    }
  });
  std::mt19937_64 rng(23);
  for (int batch = 0; batch < 20; ++batch) {
    const std::vector<std::uint64_t> rows = RandomRows(rng, 32);
    ASSERT_TRUE(dataset->Prefetch(rows).ok());
    Result<Batch> read = dataset->Next();
    ASSERT_TRUE(read.ok()) << read.status();
    testing::ExpectMnistRows(*read, rows);
  }
  foreground.join();
}

internal::BlockCache::Block BlockOf(std::size_t bytes, std::byte value) {
  return std::make_shared<const std::vector<std::byte>>(bytes, value);
}

TEST(BlockCacheTest, KeepsTheMostRecentlyUsedWithinItsBound) {
  internal::BlockCache cache(300);
  cache.Insert(0, 1, BlockOf(100, std::byte{1}));
  cache.Insert(0, 2, BlockOf(100, std::byte{2}));
  cache.Insert(1, 1, BlockOf(100, std::byte{3}));  // another field, same block number
  EXPECT_EQ(cache.bytes(), 300u);
  ASSERT_NE(cache.Find(0, 1), nullptr);  // now the most recent: block (0, 2) goes next
  cache.Insert(0, 3, BlockOf(100, std::byte{4}));
  EXPECT_EQ(cache.bytes(), 300u);
  EXPECT_EQ(cache.Find(0, 2), nullptr);
  ASSERT_NE(cache.Find(1, 1), nullptr);
  EXPECT_EQ((*cache.Find(1, 1))[0], std::byte{3});
  EXPECT_EQ((*cache.Find(0, 1))[0], std::byte{1});

  internal::BlockCache::Block held = cache.Find(0, 3);
  cache.Insert(2, 0, BlockOf(250, std::byte{5}));  // evicts all but itself
  EXPECT_EQ(cache.blocks(), 1u);
  EXPECT_EQ(cache.bytes(), 250u);
  EXPECT_EQ((*held)[99], std::byte{4});  // a reader's block outlives its eviction

  cache.Insert(3, 0, BlockOf(301, std::byte{6}));  // larger than the bound: not kept
  EXPECT_EQ(cache.Find(3, 0), nullptr);
  EXPECT_EQ(cache.bytes(), 250u);
}

}  // namespace
}  // namespace train
