// Every way opening or reading a dataset fails: the code, and a message that names the file,
// the field and the values involved.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../scratch_dir.h"
#include "dataset_test_files.h"
#include "train/dataset.h"
#include "train/internal/hdf5_util.h"

namespace train {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class DatasetErrorsTest : public ::testing::Test {
 protected:
  testing::ScratchDir dir_;
  std::string path_ = dir_ / "data.h5";
};

TEST_F(DatasetErrorsTest, MissingFileIsNotFound) {
  auto dataset = Dataset::Open(path_);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(dataset.status().message(), AllOf(HasSubstr(path_), HasSubstr("does not exist")));
}

TEST_F(DatasetErrorsTest, DirectoryIsNotAFile) {
  auto dataset = Dataset::Open(dir_ / "");
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(), HasSubstr("is a directory"));
}

TEST_F(DatasetErrorsTest, TextFileIsNotHdf5) {
  std::ofstream(path_) << "label,pixel0\n3,0\n";
  auto dataset = Dataset::Open(path_);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(), AllOf(HasSubstr(path_), HasSubstr("not an HDF5 file")));
}

TEST_F(DatasetErrorsTest, TruncatedFileIsDataLoss) {
  testing::WriteMnistLike(path_, 200);
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) / 2);
  auto dataset = Dataset::Open(path_);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kDataLoss);
  // HDF5's own finding comes through, and what to do about it.
  EXPECT_THAT(dataset.status().message(),
              AllOf(HasSubstr(path_), HasSubstr("truncated file"), HasSubstr("write or copy it")));
}

TEST_F(DatasetErrorsTest, MissingFieldListsTheFieldsThatExist) {
  testing::WriteMnistLike(path_, 10);
  DatasetOptions options;
  options.fields = {"images", "label"};
  auto dataset = Dataset::Open(path_, options);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(dataset.status().message(),
              AllOf(HasSubstr("no field 'label'"), HasSubstr(path_),
                    HasSubstr("features, images, labels, offsets, weights")));
}

TEST_F(DatasetErrorsTest, GroupIsNotAField) {
  const std::vector<float> x = {1, 2};
  testing::WriteFile(path_, {{"train/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2}, x.data(), {}}});
  DatasetOptions options;
  options.fields = {"train"};
  auto dataset = Dataset::Open(path_, options);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(), HasSubstr("'train' in " + path_ + " is a group"));
}

TEST_F(DatasetErrorsTest, FileWithoutDatasetsAtItsRoot) {
  const std::vector<float> x = {1, 2};
  testing::WriteFile(path_, {{"train/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2}, x.data(), {}}});
  auto dataset = Dataset::Open(path_);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(), HasSubstr("no datasets at its root"));
}

TEST_F(DatasetErrorsTest, FieldsOfDifferentLengthsNameBoth) {
  const std::vector<float> a(10), b(12);
  testing::WriteFile(path_, {{"a", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {10}, a.data(), {}},
                             {"b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {12}, b.data(), {4}}});
  auto dataset = Dataset::Open(path_);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(),
              AllOf(HasSubstr(path_), HasSubstr("'a' has 10 rows, 'b' has 12")));
}

TEST_F(DatasetErrorsTest, StringFieldIsRejectedUnlessLeftOut) {
  const std::vector<std::int64_t> labels = {0, 1, 2};
  testing::WriteFile(path_, {{"labels", H5T_STD_I64LE, H5T_NATIVE_INT64, {3}, labels.data(), {}}});
  testing::AddStrings(path_, "class_names", {"cat", "dog", "fox"});
  auto dataset = Dataset::Open(path_);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(),
              AllOf(HasSubstr("field 'class_names'"), HasSubstr("stores string values"),
                    HasSubstr("DatasetOptions::fields")));

  DatasetOptions options;
  options.fields = {"labels"};
  EXPECT_TRUE(Dataset::Open(path_, options).ok());
}

TEST_F(DatasetErrorsTest, ScalarFieldIsRejected) {
  const double lr = 0.1;
  testing::WriteFile(path_, {{"lr", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &lr, {}}});
  auto dataset = Dataset::Open(path_);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(), AllOf(HasSubstr("'lr'"), HasSubstr("scalar")));
}

TEST_F(DatasetErrorsTest, IndexOutOfRangeNamesTheIndexAndN) {
  testing::WriteMnistLike(path_, 100);
  auto dataset = Dataset::Open(path_);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  Result<Batch> batch = (*dataset)->Read({4, 100, 2});
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kOutOfRange);
  EXPECT_THAT(batch.status().message(),
              AllOf(HasSubstr("index 100 (position 1"), HasSubstr("N = 100"), HasSubstr(path_)));
  const Status queued = (*dataset)->Prefetch({1u << 31});
  EXPECT_EQ(queued.code(), StatusCode::kOutOfRange);
  EXPECT_THAT(queued.message(), HasSubstr("index 2147483648"));
  EXPECT_EQ((*dataset)->queued(), 0u);
}

TEST_F(DatasetErrorsTest, StoredTypeWithoutADTypeAsksForReadAs) {
  const std::vector<std::uint16_t> wide = {1, 2};
  testing::WriteFile(path_, {{"wide", H5T_STD_U16LE, H5T_NATIVE_UINT16, {2}, wide.data(), {}}});
  auto dataset = Dataset::Open(path_);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(),
              AllOf(HasSubstr("'wide'"), HasSubstr("uint16"), HasSubstr("read_as[\"wide\"]")));
}

TEST_F(DatasetErrorsTest, ReadingAsAnUnknownTypeIsRejected) {
  testing::WriteMnistLike(path_, 10);
  DatasetOptions options;
  options.read_as["labels"] = static_cast<DType>(42);
  auto dataset = Dataset::Open(path_, options);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(
      dataset.status().message(),
      AllOf(HasSubstr("'labels'"), HasSubstr("not a dtype (value 42)"), HasSubstr("bfloat16")));
}

TEST_F(DatasetErrorsTest, ReadAsForAFieldNotReadIsRejected) {
  testing::WriteMnistLike(path_, 10);
  DatasetOptions options;
  options.fields = {"images"};
  options.read_as["labels"] = DType::kInt32;
  auto dataset = Dataset::Open(path_, options);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(),
              AllOf(HasSubstr("read_as names 'labels'"), HasSubstr("fields: images")));
}

TEST_F(DatasetErrorsTest, ZeroPrefetchDepthIsRejected) {
  testing::WriteMnistLike(path_, 10);
  DatasetOptions options;
  options.prefetch_depth = 0;
  auto dataset = Dataset::Open(path_, options);
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(), HasSubstr("prefetch_depth"));
}

// Overwrites the compressed bytes of chunk `index` of `field` with garbage.
void CorruptChunk(const std::string& path, const std::string& field, hsize_t index) {
  haddr_t address = 0;
  hsize_t size = 0;
  {
    internal::Hdf5Lock lock;
    internal::Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    internal::Hid dataset(H5Dopen2(file.get(), field.c_str(), H5P_DEFAULT), H5Dclose);
    internal::Hid space(H5Dget_space(dataset.get()), H5Sclose);
    hsize_t offset[3];
    unsigned filter_mask = 0;
    ASSERT_GE(
        H5Dget_chunk_info(dataset.get(), space.get(), index, offset, &filter_mask, &address, &size),
        0)
        << internal::TakeHdf5ErrorStack();
  }
  std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
  out.seekp(static_cast<std::streamoff>(address));
  const std::string garbage(size, '\x5a');
  out.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
}

TEST_F(DatasetErrorsTest, CorruptChunkIsDataLossNamingTheField) {
  testing::WriteMnistLike(path_, 100);  // images in chunks of 16 rows, gzip
  CorruptChunk(path_, "images", 2);     // rows 32..47
  auto dataset = Dataset::Open(path_);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  Result<Batch> batch = (*dataset)->Read({5, 40});
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(
      batch.status().message(),
      AllOf(HasSubstr("H5Dread failed on field 'images' of " + path_), HasSubstr("h5dump")));
  // Rows outside the damaged chunk still read.
  Result<Batch> intact = (*dataset)->Read({5, 60});
  ASSERT_TRUE(intact.ok()) << intact.status();
  testing::ExpectMnistRows(*intact, {5, 60});
}

TEST_F(DatasetErrorsTest, FileChangedSinceOpenIsFailedPrecondition) {
  testing::WriteMnistLike(path_, 100);
  auto dataset = Dataset::Open(path_);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  testing::WriteMnistLike(path_, 50);
  Result<Batch> batch = (*dataset)->Read({1});
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(batch.status().message(),
              AllOf(HasSubstr(path_), HasSubstr("changed"), HasSubstr("open it again")));
}

}  // namespace
}  // namespace train
