// Reading rows by index: values, order, repeats, shapes, and coalesced against row-by-row reads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../../scratch_dir.h"
#include "dataset_test_files.h"
#include "train/dataset.h"

namespace train {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::uint64_t kRows = 1000;

class DatasetReadTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::WriteMnistLike(path_, kRows); }

  std::unique_ptr<Dataset> OpenOrDie(const DatasetOptions& options = {}) {
    auto dataset = Dataset::Open(path_, options);
    EXPECT_TRUE(dataset.ok()) << dataset.status();
    return dataset.ok() ? std::move(dataset).value() : nullptr;
  }

  testing::ScratchDir dir_;
  std::string path_ = dir_ / "mnist.h5";
};

TEST_F(DatasetReadTest, OpenDescribesEveryRootField) {
  auto dataset = OpenOrDie();
  ASSERT_NE(dataset, nullptr);
  EXPECT_EQ(dataset->size(), kRows);
  EXPECT_EQ(dataset->path(), path_);
  const std::vector<FieldInfo>& fields = dataset->fields();
  std::vector<std::string> names;
  for (const FieldInfo& f : fields) names.push_back(f.name);
  EXPECT_THAT(names, ElementsAre("features", "images", "labels", "offsets", "weights"));

  const FieldInfo& images = fields[1];
  EXPECT_EQ(images.dtype, DType::kUInt8);
  EXPECT_EQ(images.stored_type, "uint8");
  EXPECT_THAT(images.shape, ElementsAre(kRows, 28u, 28u));
  EXPECT_THAT(images.chunk_shape, ElementsAre(16u, 28u, 28u));
  const FieldInfo& labels = fields[2];
  EXPECT_EQ(labels.dtype, DType::kInt64);
  EXPECT_THAT(labels.shape, ElementsAre(kRows));
  EXPECT_THAT(labels.chunk_shape, IsEmpty());  // contiguous
  EXPECT_EQ(fields[0].dtype, DType::kFloat32);
  EXPECT_EQ(fields[3].dtype, DType::kInt16);
  EXPECT_EQ(fields[4].dtype, DType::kFloat64);
}

TEST_F(DatasetReadTest, RowsComeInTheRequestedOrderWithRepeats) {
  auto dataset = OpenOrDie();
  ASSERT_NE(dataset, nullptr);
  const std::vector<std::uint64_t> indices = {999, 0, 5, 5, 17, 16, 998, 0, 500, 31, 32};
  Result<Batch> batch = dataset->Read(indices);
  ASSERT_TRUE(batch.ok()) << batch.status();
  testing::ExpectMnistRows(*batch, indices);
  const HostTensor& images = batch->at("images");
  EXPECT_THAT(images.shape, ElementsAre(indices.size(), 28u, 28u));
  EXPECT_EQ(images.data<std::uint8_t>()[0], testing::ImageValue(999, 0, 0));
  EXPECT_EQ(batch->at("labels").data<std::int64_t>()[7], testing::LabelValue(0));
  EXPECT_FLOAT_EQ(batch->at("features").data<float>()[3 * 4 + 2], testing::FeatureValue(17, 2));
}

TEST_F(DatasetReadTest, AscendingRangeIsReadAsIs) {
  auto dataset = OpenOrDie();
  ASSERT_NE(dataset, nullptr);
  std::vector<std::uint64_t> indices;
  for (std::uint64_t i = 100; i < 356; ++i) indices.push_back(i);
  Result<Batch> batch = dataset->Read(indices);
  ASSERT_TRUE(batch.ok()) << batch.status();
  testing::ExpectMnistRows(*batch, indices);
}

TEST_F(DatasetReadTest, OnlyTheNamedFieldsAreRead) {
  DatasetOptions options;
  options.fields = {"labels", "images"};
  auto dataset = OpenOrDie(options);
  ASSERT_NE(dataset, nullptr);
  ASSERT_EQ(dataset->fields().size(), 2u);
  EXPECT_EQ(dataset->fields()[0].name, "labels");  // in the order named
  Result<Batch> batch = dataset->Read({3, 1, 4, 1, 5});
  ASSERT_TRUE(batch.ok()) << batch.status();
  testing::ExpectMnistRows(*batch, {3, 1, 4, 1, 5}, {"labels", "images"});
}

TEST_F(DatasetReadTest, EmptyIndexListGivesEmptyTensorsOfTheFieldsShapes) {
  auto dataset = OpenOrDie();
  ASSERT_NE(dataset, nullptr);
  Result<Batch> batch = dataset->Read({});
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 5u);
  EXPECT_THAT(batch->at("images").shape, ElementsAre(0u, 28u, 28u));
  EXPECT_EQ(batch->at("images").dtype, DType::kUInt8);
  EXPECT_THAT(batch->at("labels").shape, ElementsAre(0u));
  EXPECT_THAT(batch->at("offsets").shape, ElementsAre(0u, 5u));
  for (const auto& [name, tensor] : *batch) EXPECT_THAT(tensor.bytes, IsEmpty()) << name;
}

TEST_F(DatasetReadTest, FieldsInGroupsAreNamedByTheirPath) {
  const std::string path = dir_ / "nested.h5";
  const std::vector<std::int32_t> values = {10, 11, 12, 13};
  testing::WriteFile(path, {{"train/x", H5T_STD_I32LE, H5T_NATIVE_INT32, {4}, values.data(), {}}});
  DatasetOptions options;
  options.fields = {"train/x"};
  auto dataset = Dataset::Open(path, options);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  Result<Batch> batch = (*dataset)->Read({3, 0});
  ASSERT_TRUE(batch.ok()) << batch.status();
  const std::int32_t* x = batch->at("train/x").data<std::int32_t>();
  EXPECT_EQ(x[0], 13);
  EXPECT_EQ(x[1], 10);
}

// Property: a coalesced batch read equals the same rows read one at a time, for random index
// sets mixing scattered rows, runs of consecutive rows and repeats, on chunked (compressed and
// not) and contiguous fields.
TEST_F(DatasetReadTest, CoalescedReadsEqualRowByRowReads) {
  auto dataset = OpenOrDie();
  ASSERT_NE(dataset, nullptr);
  std::mt19937_64 rng(20240601);
  for (int trial = 0; trial < 25; ++trial) {
    std::vector<std::uint64_t> indices;
    const std::size_t target = 1 + rng() % 200;
    while (indices.size() < target) {
      const std::uint64_t start = rng() % kRows;
      const std::uint64_t run = rng() % 4 == 0 ? 1 + rng() % 40 : 1;  // some consecutive runs
      for (std::uint64_t r = start; r < std::min(kRows, start + run); ++r) indices.push_back(r);
      if (rng() % 8 == 0) indices.push_back(indices[rng() % indices.size()]);  // a repeat
    }
    if (trial % 3 == 0) std::shuffle(indices.begin(), indices.end(), rng);

    Result<Batch> batch = dataset->Read(indices);
    ASSERT_TRUE(batch.ok()) << batch.status();
    std::map<std::string, std::vector<std::byte>> one_by_one;
    for (std::uint64_t index : indices) {
      Result<Batch> row = dataset->Read({index});
      ASSERT_TRUE(row.ok()) << row.status();
      for (const auto& [name, tensor] : *row) {
        one_by_one[name].insert(one_by_one[name].end(), tensor.bytes.begin(), tensor.bytes.end());
      }
    }
    for (const FieldInfo& field : dataset->fields()) {
      ASSERT_TRUE(batch->at(field.name).bytes == one_by_one[field.name])
          << "trial " << trial << ", field " << field.name;
    }
    testing::ExpectMnistRows(*batch, indices);
  }
}

}  // namespace
}  // namespace train
