// The real Fashion-MNIST train set (package dataset-fashion-mnist) imported, checked value by
// value against its IDX files, inspected, and read by h5dump. Skipped without the package.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include "command.h"
#include "datatools_test_util.h"
#include "importers.h"
#include "inspect.h"

namespace trainctl::data {
namespace {

using ::testing::HasSubstr;

constexpr char kDataDir[] = "/usr/share/datasets/fashion-mnist";
constexpr uint64_t kTrainRows = 60000;
constexpr uint64_t kImageBytes = 28 * 28;
constexpr size_t kImagesHeaderBytes = 16;  // magic and three dimensions

std::string DataFile(const std::string& name) { return std::string(kDataDir) + "/" + name; }

// The decompressed bytes of a gzip'd file.
std::vector<uint8_t> Gunzip(const std::string& path) {
  std::vector<uint8_t> out;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return out;
  std::array<uint8_t, 1 << 16> buffer;
  int n;
  while ((n = gzread(file, buffer.data(), buffer.size())) > 0) {
    out.insert(out.end(), buffer.begin(), buffer.begin() + n);
  }
  gzclose(file);
  return out;
}

class FashionMnistTest : public ::testing::Test {
 protected:
  // One import shared by the tests: it is the expensive part.
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kDataDir)) return;
    dir_ = new testing::ScratchDir();
    IdxImportOptions options;
    options.images_path = DataFile("train-images-idx3-ubyte.gz");
    options.labels_path = DataFile("train-labels-idx1-ubyte.gz");
    options.output_path = *dir_ / "fashion-mnist-train.h5";
    const auto start = std::chrono::steady_clock::now();
    summary_ = new train::Result<ImportSummary>(ImportIdx(options));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "Fashion-MNIST train set imported in " << seconds << " s\n";
  }
  static void TearDownTestSuite() {
    delete summary_;
    delete dir_;
    summary_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (dir_ == nullptr) GTEST_SKIP() << kDataDir << " is missing: install dataset-fashion-mnist";
    ASSERT_TRUE(summary_->ok()) << summary_->status();
  }
  static std::string Output() { return *dir_ / "fashion-mnist-train.h5"; }

  static inline testing::ScratchDir* dir_ = nullptr;
  static inline train::Result<ImportSummary>* summary_ = nullptr;
};

TEST_F(FashionMnistTest, ImportsSixtyThousandImagesAsIdxHoldsThem) {
  EXPECT_EQ((*summary_)->rows, kTrainRows);
  auto images = testing::ReadDataset<uint8_t>(Output(), "images", H5T_NATIVE_UINT8);
  EXPECT_EQ(images.shape, (std::vector<uint64_t>{kTrainRows, 28, 28}));
  EXPECT_EQ(images.type_size, 1u);
  const std::vector<uint8_t> idx = Gunzip(DataFile("train-images-idx3-ubyte.gz"));
  ASSERT_EQ(idx.size(), kImagesHeaderBytes + kTrainRows * kImageBytes);
  // The first image byte for byte, then everything.
  ASSERT_TRUE(std::equal(images.values.begin(), images.values.begin() + kImageBytes,
                         idx.begin() + kImagesHeaderBytes));
  EXPECT_TRUE(
      std::equal(images.values.begin(), images.values.end(), idx.begin() + kImagesHeaderBytes));
}

TEST_F(FashionMnistTest, LabelsAreTenClassesOfSixThousand) {
  auto labels = testing::ReadDataset<int64_t>(Output(), "labels", H5T_NATIVE_INT64);
  EXPECT_EQ(labels.shape, (std::vector<uint64_t>{kTrainRows}));
  std::array<uint64_t, 10> counts{};
  for (int64_t label : labels.values) {
    ASSERT_GE(label, 0);
    ASSERT_LE(label, 9);
    ++counts[static_cast<size_t>(label)];
  }
  for (uint64_t count : counts) EXPECT_EQ(count, 6000u);
}

TEST_F(FashionMnistTest, InspectNamesTheFieldsAndTheirChunks) {
  auto info = InspectFile(Output());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_rows, kTrainRows);
  const std::string text = FormatInspectText(*info);
  EXPECT_THAT(text, HasSubstr("2 datasets, N = 60000 rows in each"));
  EXPECT_THAT(text, HasSubstr("images: uint8 [60000, 28, 28]\n"
                              "  layout:      chunked, chunks [32, 28, 28]\n"
                              "  compression: deflate level 4\n"));
  EXPECT_THAT(text, HasSubstr("labels: int64 [60000]\n  layout:      chunked, chunks [1024]\n"));
  EXPECT_THAT(text, HasSubstr("train-images-idx3-ubyte.gz\""));
  std::cout << text;
}

TEST_F(FashionMnistTest, H5dumpReadsTheFile) {
  if (testing::RunShell("command -v h5dump").exit_code != 0) {
    GTEST_SKIP() << "h5dump is not installed (package hdf5-tools)";
  }
  auto dump = testing::RunShell("h5dump -H " + Output());
  ASSERT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_THAT(dump.output, HasSubstr("DATASET \"images\""));
  EXPECT_THAT(dump.output, HasSubstr("H5T_STD_U8LE"));
  EXPECT_THAT(dump.output,
              HasSubstr("DATASPACE  SIMPLE { ( 60000, 28, 28 ) / ( H5S_UNLIMITED, 28, 28 ) }"));
  EXPECT_THAT(dump.output, HasSubstr("DATASET \"labels\""));
  EXPECT_THAT(dump.output, HasSubstr("H5T_STD_I64LE"));
}

TEST_F(FashionMnistTest, TheCommandImportsTheTestSet) {
  const std::string out = *dir_ / "fashion-mnist-test.h5";
  auto imported =
      testing::Data("import idx --images " + DataFile("t10k-images-idx3-ubyte.gz") + " --labels " +
                    DataFile("t10k-labels-idx1-ubyte.gz") + " -o " + out);
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_THAT(imported.output, HasSubstr("images uint8 [10000, 28, 28], labels int64 [10000]"));
  auto mismatched =
      testing::Data("import idx --images " + DataFile("t10k-images-idx3-ubyte.gz") + " --labels " +
                    DataFile("train-labels-idx1-ubyte.gz") + " -o " + *dir_ / "mixed.h5");
  EXPECT_EQ(mismatched.exit_code, 1);
  EXPECT_THAT(mismatched.output, HasSubstr("holds 10000"));
  EXPECT_THAT(mismatched.output, HasSubstr("holds 60000"));
  EXPECT_FALSE(std::filesystem::exists(*dir_ / "mixed.h5"));
}

}  // namespace
}  // namespace trainctl::data
