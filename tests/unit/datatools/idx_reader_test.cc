// IDX files of every shape the importer meets, plain and gzip'd, and the broken ones.
#include "idx_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "datatools_test_util.h"

namespace trainctl::data {
namespace {

using ::testing::HasSubstr;
using testing::IdxBytes;
using testing::ScratchDir;
using testing::SomeBytes;
using testing::WriteBytes;

class IdxReaderTest : public ::testing::TestWithParam<bool> {
 protected:
  bool gzip() const { return GetParam(); }
  std::string Write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = dir_ / (name + (gzip() ? ".gz" : ""));
    WriteBytes(path, bytes, gzip());
    return path;
  }
  ScratchDir dir_;
};

TEST_P(IdxReaderTest, ReadsUint8Images) {
  const std::vector<uint8_t> body = SomeBytes(5 * 3 * 4, 1);
  const std::string path = Write("images", IdxBytes(0x08, {5, 3, 4}, body));
  auto array = ReadIdxFile(path);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->header.dtype, train::DType::kUInt8);
  EXPECT_EQ(array->header.dims, (std::vector<uint64_t>{5, 3, 4}));
  EXPECT_EQ(array->header.rows(), 5u);
  EXPECT_EQ(array->header.row_bytes(), 12u);
  EXPECT_EQ(array->header.gzipped, gzip());
  EXPECT_EQ(array->data, body);
}

TEST_P(IdxReaderTest, ReadsUint8Labels) {
  const std::vector<uint8_t> body = {9, 0, 3, 7};
  auto array = ReadIdxFile(Write("labels", IdxBytes(0x08, {4}, body)));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->header.dims, (std::vector<uint64_t>{4}));
  EXPECT_EQ(array->header.row_bytes(), 1u);
  EXPECT_EQ(array->data, body);
}

TEST_P(IdxReaderTest, TurnsBigEndianElementsAround) {
  // int32 -2 and 258, float32 1.5 (0x3fc00000), all big-endian in the file.
  auto ints = ReadIdxFile(Write("ints", IdxBytes(0x0C, {2}, {0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 2})));
  ASSERT_TRUE(ints.ok()) << ints.status();
  EXPECT_EQ(ints->header.dtype, train::DType::kInt32);
  int32_t values[2];
  std::memcpy(values, ints->data.data(), sizeof(values));
  EXPECT_EQ(values[0], -2);
  EXPECT_EQ(values[1], 258);

  auto floats = ReadIdxFile(Write("floats", IdxBytes(0x0D, {1, 1}, {0x3f, 0xc0, 0, 0})));
  ASSERT_TRUE(floats.ok()) << floats.status();
  EXPECT_EQ(floats->header.dtype, train::DType::kFloat32);
  float f;
  std::memcpy(&f, floats->data.data(), sizeof(f));
  EXPECT_EQ(f, 1.5f);
}

TEST_P(IdxReaderTest, ReadsRowsInPieces) {
  const std::vector<uint8_t> body = SomeBytes(10 * 6, 2);
  auto reader = IdxReader::Open(Write("images", IdxBytes(0x08, {10, 2, 3}, body)));
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<uint8_t> rows;
  ASSERT_TRUE((*reader)->ReadRows(4, &rows).ok());
  EXPECT_EQ(rows, std::vector<uint8_t>(body.begin(), body.begin() + 24));
  ASSERT_TRUE((*reader)->ReadRows(6, &rows).ok());
  EXPECT_EQ(rows, std::vector<uint8_t>(body.begin() + 24, body.end()));
  EXPECT_TRUE((*reader)->CheckAtEnd().ok());
  EXPECT_EQ((*reader)->ReadRows(1, &rows).code(), train::StatusCode::kOutOfRange);
}

TEST_P(IdxReaderTest, RejectsABadMagic) {
  const std::string path = Write("zip", {'P', 'K', 3, 4, 0, 0, 0, 0});
  auto array = ReadIdxFile(path);
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.status().code(), train::StatusCode::kDataLoss);
  EXPECT_THAT(array.status().message(), HasSubstr(path + ": not an IDX file: magic 0x504b0304"));
}

TEST_P(IdxReaderTest, RejectsAnUnknownElementType) {
  auto array = ReadIdxFile(Write("type", IdxBytes(0x0A, {1}, {0})));
  ASSERT_FALSE(array.ok());
  EXPECT_THAT(array.status().message(), HasSubstr("element type 0x0a is unknown"));
}

TEST_P(IdxReaderTest, RejectsATruncatedBody) {
  // The header announces 10 images of 2x3 but only 4 and a half follow.
  const std::string path = Write("short", IdxBytes(0x08, {10, 2, 3}, SomeBytes(27, 3)));
  auto array = ReadIdxFile(path);
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.status().code(), train::StatusCode::kDataLoss);
  EXPECT_THAT(array.status().message(), HasSubstr(path));
  EXPECT_THAT(array.status().message(), HasSubstr("truncated"));
  EXPECT_THAT(array.status().message(), HasSubstr("10x2x3"));
}

TEST_P(IdxReaderTest, RejectsATruncatedHeader) {
  auto array = ReadIdxFile(Write("header", {0, 0, 8, 3, 0, 0, 0, 10, 0, 0}));
  ASSERT_FALSE(array.ok());
  EXPECT_THAT(array.status().message(), HasSubstr("ends inside their sizes"));
}

TEST_P(IdxReaderTest, RejectsBytesBeyondTheHeadersShape) {
  auto array = ReadIdxFile(Write("long", IdxBytes(0x08, {2}, {1, 2, 3})));
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.status().code(), train::StatusCode::kDataLoss);
}

TEST_P(IdxReaderTest, RejectsAnEmptyFile) {
  auto array = ReadIdxFile(Write("empty", {}));
  ASSERT_FALSE(array.ok());
  EXPECT_THAT(array.status().message(), HasSubstr("shorter than the 4-byte IDX magic"));
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxReaderTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Gzip" : "Plain";
                         });

TEST(IdxReaderOpenTest, NamesAMissingFile) {
  auto reader = IdxReader::Open("/nonexistent/train-images-idx3-ubyte.gz");
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), train::StatusCode::kNotFound);
  EXPECT_THAT(reader.status().message(), HasSubstr("/nonexistent/train-images-idx3-ubyte.gz"));
}

TEST(IdxReaderOpenTest, FindsAPlainFilesTruncationBeforeReading) {
  ScratchDir dir;
  const std::string path = dir / "short";
  WriteBytes(path, IdxBytes(0x08, {10, 2, 3}, SomeBytes(30, 4)), false);
  auto reader = IdxReader::Open(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_THAT(reader.status().message(), HasSubstr("but the file holds 46 bytes"));
}

}  // namespace
}  // namespace trainctl::data
