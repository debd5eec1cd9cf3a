// Imports read back value by value with the HDF5 C API; failures leave nothing behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datatools_test_util.h"
#include "hdf5_writer.h"
#include "importers.h"

namespace trainctl::data {
namespace {

using ::testing::ElementsAre;
using testing::EntryNames;
using ::testing::HasSubstr;
using testing::IdxBytes;
using testing::ReadDataset;
using testing::ScratchDir;
using testing::SomeBytes;
using testing::WriteBytes;

// Reads a string attribute (scalar or the first of an array) of `object` in `path`.
std::vector<std::string> StringAttribute(const std::string& path, const std::string& object,
                                         const std::string& name) {
  std::vector<std::string> out;
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t attr = H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(attr, 0) << object << " " << name;
  if (attr >= 0) {
    const hid_t space = H5Aget_space(attr);
    std::vector<char*> strings(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);  // as written; HDF5 does not convert between sets
    EXPECT_GE(H5Aread(attr, type, strings.data()), 0);
    for (char* s : strings) out.emplace_back(s);
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, strings.data());
    H5Tclose(type);
    H5Sclose(space);
    H5Aclose(attr);
  }
  H5Fclose(file);
  return out;
}

class IdxImportTest : public ::testing::Test {
 protected:
  // `rows` 3 x `width` images and their labels, written gzip'd or plain.
  void WriteInputs(uint32_t rows, bool gzip, uint32_t label_rows = 0, uint32_t width = 4) {
    width_ = width;
    images_ = SomeBytes(rows * 3 * width, 7);
    labels_.clear();
    for (uint32_t i = 0; i < (label_rows ? label_rows : rows); ++i) labels_.push_back(i % 10);
    options_.images_path = dir_ / (gzip ? "images.gz" : "images");
    options_.labels_path = dir_ / (gzip ? "labels.gz" : "labels");
    options_.output_path = dir_ / "out.h5";
    WriteBytes(options_.images_path, IdxBytes(0x08, {rows, 3, width}, images_), gzip);
    WriteBytes(options_.labels_path,
               IdxBytes(0x08, {static_cast<uint32_t>(labels_.size())}, labels_), gzip);
  }

  void ExpectRoundTrip(const std::string& images = "images", const std::string& labels = "labels") {
    auto x = ReadDataset<uint8_t>(options_.output_path, images, H5T_NATIVE_UINT8);
    const auto rows = static_cast<uint64_t>(labels_.size());
    EXPECT_EQ(x.shape, (std::vector<uint64_t>{rows, 3, width_}));
    EXPECT_EQ(x.type_class, H5T_INTEGER);
    EXPECT_EQ(x.type_size, 1u);
    EXPECT_EQ(x.sign, H5T_SGN_NONE);
    EXPECT_EQ(x.values, images_);
    auto y = ReadDataset<int64_t>(options_.output_path, labels, H5T_NATIVE_INT64);
    EXPECT_EQ(y.shape, (std::vector<uint64_t>{rows}));
    EXPECT_EQ(y.type_size, 8u);
    EXPECT_EQ(y.sign, H5T_SGN_2);
    ASSERT_EQ(y.values.size(), labels_.size());
    for (size_t i = 0; i < labels_.size(); ++i) ASSERT_EQ(y.values[i], labels_[i]) << i;
  }

  ScratchDir dir_;
  IdxImportOptions options_;
  std::vector<uint8_t> images_, labels_;
  uint32_t width_ = 4;
};

TEST_F(IdxImportTest, RoundTripsEveryValue) {
  WriteInputs(2500, /*gzip=*/true);
  auto summary = ImportIdx(options_);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows, 2500u);
  ExpectRoundTrip();
  auto x = ReadDataset<uint8_t>(options_.output_path, "images", H5T_NATIVE_UINT8);
  EXPECT_EQ(x.chunks, (std::vector<uint64_t>{1024, 3, 4}));
  EXPECT_EQ(x.deflate_level, kDefaultCompression);
  auto y = ReadDataset<int64_t>(options_.output_path, "labels", H5T_NATIVE_INT64);
  EXPECT_EQ(y.chunks, (std::vector<uint64_t>{1024}));
  EXPECT_THAT(StringAttribute(options_.output_path, "images", "source"),
              ElementsAre(options_.images_path));
  EXPECT_THAT(StringAttribute(options_.output_path, "labels", "source_format"),
              ElementsAre("idx+gzip"));
  EXPECT_THAT(StringAttribute(options_.output_path, "labels", "source_dtype"),
              ElementsAre("uint8"));
  EXPECT_THAT(EntryNames(dir_), ElementsAre("images.gz", "labels.gz", "out.h5"));
}

TEST_F(IdxImportTest, PlainInputsCustomFieldsNoCompressionStillChunked) {
  WriteInputs(100, /*gzip=*/false);
  options_.images_field = "x";
  options_.labels_field = "y";
  options_.compression = 0;
  options_.chunk_rows = 32;
  ASSERT_TRUE(ImportIdx(options_).ok());
  ExpectRoundTrip("x", "y");
  auto x = ReadDataset<uint8_t>(options_.output_path, "x", H5T_NATIVE_UINT8);
  EXPECT_EQ(x.chunks, (std::vector<uint64_t>{32, 3, 4}));
  EXPECT_EQ(x.deflate_level, -1);
  EXPECT_THAT(StringAttribute(options_.output_path, "x", "source_format"), ElementsAre("idx"));
}

TEST_F(IdxImportTest, ChunksNeverExceedTheRows) {
  WriteInputs(5, /*gzip=*/false);
  options_.chunk_rows = 4096;
  ASSERT_TRUE(ImportIdx(options_).ok());
  ExpectRoundTrip();
  EXPECT_EQ(ReadDataset<uint8_t>(options_.output_path, "images", H5T_NATIVE_UINT8).chunks,
            (std::vector<uint64_t>{5, 3, 4}));
}

TEST_F(IdxImportTest, AFailureMidwayLeavesNoOutputAndNoTemporaryFile) {
  WriteInputs(3000, /*gzip=*/true, 0, /*width=*/1024);
  // Rewrite the images cut short: the header still announces 3000 rows, 1500 follow.
  images_.resize(1500 * 3 * 1024);
  WriteBytes(options_.images_path, IdxBytes(0x08, {3000, 3, 1024}, images_), true);
  options_.chunk_rows = 16;  // several chunks are written before the end is found
  std::vector<uint64_t> progress;
  auto summary = ImportIdx(options_, [&](std::string_view, uint64_t done, uint64_t) {
    progress.push_back(done);
    return true;
  });
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), train::StatusCode::kDataLoss);
  EXPECT_THAT(summary.status().message(), HasSubstr(options_.images_path + ": truncated"));
  EXPECT_FALSE(progress.empty()) << "the import failed before writing anything";
  EXPECT_THAT(EntryNames(dir_), ElementsAre("images.gz", "labels.gz"));
}

TEST_F(IdxImportTest, ACancelledImportLeavesNothing) {
  WriteInputs(1000, /*gzip=*/false, 0, /*width=*/1024);
  options_.chunk_rows = 100;  // 300 KiB chunks: progress every 3 chunks (~1 MiB)
  uint64_t calls = 0;
  auto summary = ImportIdx(options_, [&](std::string_view what, uint64_t done, uint64_t total) {
    EXPECT_EQ(what, "images");
    EXPECT_EQ(done, 300 * (calls + 1));
    EXPECT_EQ(total, 1000u);
    return ++calls < 3;
  });
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), train::StatusCode::kCancelled);
  EXPECT_EQ(calls, 3u);
  EXPECT_THAT(EntryNames(dir_), ElementsAre("images", "labels"));
}

TEST_F(IdxImportTest, RefusesToOverwriteWithoutForce) {
  WriteInputs(10, /*gzip=*/false);
  testing::WriteText(options_.output_path, "precious");
  auto summary = ImportIdx(options_);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), train::StatusCode::kAlreadyExists);
  EXPECT_THAT(summary.status().message(), HasSubstr("out.h5: exists already; pass --force"));
  std::ifstream in(options_.output_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "precious");

  options_.force = true;
  ASSERT_TRUE(ImportIdx(options_).ok());
  ExpectRoundTrip();
  EXPECT_THAT(EntryNames(dir_), ElementsAre("images", "labels", "out.h5"));
}

TEST_F(IdxImportTest, MismatchedCountsNameBothFiles) {
  WriteInputs(10, /*gzip=*/false, /*label_rows=*/9);
  auto summary = ImportIdx(options_);
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(), HasSubstr(options_.images_path + " holds 10"));
  EXPECT_THAT(summary.status().message(), HasSubstr(options_.labels_path + " holds 9"));
  EXPECT_THAT(EntryNames(dir_), ElementsAre("images", "labels"));
}

TEST_F(IdxImportTest, RejectsLabelsThatAreNotOnePerRow) {
  WriteInputs(4, /*gzip=*/false);
  WriteBytes(options_.labels_path, IdxBytes(0x08, {4, 2}, SomeBytes(8, 1)), false);
  auto summary = ImportIdx(options_);
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(), HasSubstr("labels of shape 4x2"));
}

TEST_F(IdxImportTest, ValidatesOptionsBeforeReading) {
  options_.images_field = "a/b";
  EXPECT_THAT(ValidateIdxImportOptions(options_).message(), HasSubstr("--images-field \"a/b\""));
  options_.images_field = "labels";
  EXPECT_THAT(ValidateIdxImportOptions(options_).message(), HasSubstr("both \"labels\""));
  options_.images_field = "images";
  options_.compression = 10;
  EXPECT_THAT(ValidateIdxImportOptions(options_).message(), HasSubstr("--compression 10"));
}

TEST(CsvImportTest, SplitsTheTargetFromTheFeatures) {
  ScratchDir dir;
  CsvImportOptions options;
  options.input_path = dir / "boston.csv";
  options.output_path = dir / "boston.h5";
  options.target = "MEDV";
  testing::WriteText(options.input_path, "3,2\nCRIM,ZN,MEDV\n0.1,18,24\n0.2,0,21.6\n0.3,0,34.7\n");
  auto summary = ImportCsv(options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto x = ReadDataset<double>(options.output_path, "features", H5T_NATIVE_DOUBLE);
  EXPECT_EQ(x.shape, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(x.type_class, H5T_FLOAT);
  EXPECT_EQ(x.type_size, 8u);
  EXPECT_THAT(x.values, ElementsAre(0.1, 18, 0.2, 0, 0.3, 0));
  auto y = ReadDataset<double>(options.output_path, "target", H5T_NATIVE_DOUBLE);
  EXPECT_EQ(y.shape, (std::vector<uint64_t>{3}));
  EXPECT_THAT(y.values, ElementsAre(24, 21.6, 34.7));
  EXPECT_THAT(StringAttribute(options.output_path, "features", "columns"),
              ElementsAre("CRIM", "ZN"));
  EXPECT_THAT(StringAttribute(options.output_path, "target", "column"), ElementsAre("MEDV"));
}

TEST(CsvImportTest, WithoutTargetEveryColumnIsAFeature) {
  ScratchDir dir;
  CsvImportOptions options;
  options.input_path = dir / "t.csv";
  options.output_path = dir / "t.h5";
  options.compression = 0;
  testing::WriteText(options.input_path, "a,b,c\n1,2,3\n4,5,6\n");
  ASSERT_TRUE(ImportCsv(options).ok());
  auto x = ReadDataset<double>(options.output_path, "features", H5T_NATIVE_DOUBLE);
  EXPECT_EQ(x.shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_THAT(x.values, ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_EQ(x.deflate_level, -1);
  EXPECT_FALSE(x.chunks.empty());
  EXPECT_THAT(StringAttribute(options.output_path, "features", "columns"),
              ElementsAre("a", "b", "c"));
}

TEST(CsvImportTest, AnUnknownTargetSuggestsAColumnAndLeavesNothing) {
  ScratchDir dir;
  CsvImportOptions options;
  options.input_path = dir / "t.csv";
  options.output_path = dir / "t.h5";
  options.target = "medv";
  testing::WriteText(options.input_path, "CRIM,ZN,MEDV\n1,2,3\n");
  auto summary = ImportCsv(options);
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(),
              HasSubstr("--target \"medv\": no such column; did you mean \"MEDV\"? The columns "
                        "are: CRIM, ZN, MEDV"));
  EXPECT_THAT(EntryNames(dir), ElementsAre("t.csv"));
}

TEST(CsvImportTest, ABadCellLeavesNothing) {
  ScratchDir dir;
  CsvImportOptions options;
  options.input_path = dir / "t.csv";
  options.output_path = dir / "t.h5";
  testing::WriteText(options.input_path, "a,b\n1,2\n3,?\n");
  auto summary = ImportCsv(options);
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(), HasSubstr("t.csv:3:3: column 2 (b): \"?\""));
  EXPECT_THAT(EntryNames(dir), ElementsAre("t.csv"));
}

}  // namespace
}  // namespace trainctl::data

namespace trainctl::data {
namespace {

TEST(DefaultChunkRowsTest, AboutThirtyTwoKibOfRowsAPowerOfTwo) {
  EXPECT_EQ(DefaultChunkRows(28 * 28, 60000), 32u);       // an MNIST image
  EXPECT_EQ(DefaultChunkRows(8, 60000), 1024u);           // an int64 label: capped
  EXPECT_EQ(DefaultChunkRows(13 * 8, 506), 256u);         // a row of 13 float64
  EXPECT_EQ(DefaultChunkRows(uint64_t{1} << 20, 9), 1u);  // rows wider than the target
  EXPECT_EQ(DefaultChunkRows(12, 5), 5u);                 // never more than the rows
  EXPECT_EQ(DefaultChunkRows(12, 0), 1u);                 // HDF5 needs at least 1
}

}  // namespace
}  // namespace trainctl::data
