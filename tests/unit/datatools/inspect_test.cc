// What `trainctl data inspect` reports, for imports and for files made by other tools.
#include "inspect.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "datatools_test_util.h"
#include "hdf5_writer.h"
#include "importers.h"

namespace trainctl::data {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

// images [rows, 2, 2] uint8 and labels [label_rows] int64 with attributes, written directly.
void WriteFile(const std::string& path, uint64_t rows, uint64_t label_rows, int compression) {
  auto file = CreateHdf5File(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto images = DatasetWriter::Create(
      file->get(), {"images", train::DType::kUInt8, {rows, 2, 2}, 4, compression}, path);
  ASSERT_TRUE(images.ok()) << images.status();
  std::vector<uint8_t> pixels(rows * 4, 7);
  ASSERT_TRUE(images->WriteRows(pixels.data(), rows).ok());
  ASSERT_TRUE(WriteAttribute(images->id(), "source", "/data/x.idx").ok());
  ASSERT_TRUE(WriteAttribute(images->id(), "columns", std::vector<std::string>{"a", "b"}).ok());
  ASSERT_TRUE(WriteAttribute(images->id(), "version", int64_t{3}).ok());
  ASSERT_TRUE(images->Finish().ok());
  auto labels = DatasetWriter::Create(
      file->get(), {"labels", train::DType::kInt64, {label_rows}, 0, compression}, path);
  ASSERT_TRUE(labels.ok()) << labels.status();
  std::vector<int64_t> values(label_rows, 1);
  ASSERT_TRUE(labels->WriteRows(values.data(), label_rows).ok());
  ASSERT_TRUE(labels->Finish().ok());
  ASSERT_TRUE(WriteAttribute(file->get(), "created_by", "a test").ok());
  ASSERT_TRUE(CloseHdf5File(std::move(file).value(), path).ok());
}

TEST(InspectTest, DescribesEveryDataset) {
  ScratchDir dir;
  const std::string path = dir / "t.h5";
  WriteFile(path, 10, 10, 6);
  auto info = InspectFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->datasets.size(), 2u);
  const DatasetInfo& images = info->datasets[0];
  EXPECT_EQ(images.name, "images");
  EXPECT_EQ(images.dtype, "uint8");
  EXPECT_EQ(images.shape, (std::vector<uint64_t>{10, 2, 2}));
  EXPECT_EQ(images.layout, "chunked");
  EXPECT_EQ(images.chunks, (std::vector<uint64_t>{4, 2, 2}));
  ASSERT_EQ(images.filters.size(), 1u);  // no shuffle for single bytes
  EXPECT_EQ(images.filters[0].name, "deflate");
  EXPECT_EQ(images.filters[0].options.at(0), 6u);
  EXPECT_EQ(images.raw_bytes, 40u);
  EXPECT_GT(images.storage_bytes, 0u);
  ASSERT_EQ(images.attributes.size(), 3u);
  const DatasetInfo& labels = info->datasets[1];
  EXPECT_EQ(labels.dtype, "int64");
  ASSERT_EQ(labels.filters.size(), 2u);
  EXPECT_EQ(labels.filters[0].name, "shuffle");
  EXPECT_EQ(info->common_rows, 10u);

  const std::string text = FormatInspectText(*info);
  EXPECT_THAT(text, HasSubstr("2 datasets, N = 10 rows in each"));
  EXPECT_THAT(text, HasSubstr("created_by = \"a test\""));
  EXPECT_THAT(text, HasSubstr("images: uint8 [10, 2, 2]\n  layout:      chunked, chunks [4, 2, 2]\n"
                              "  compression: deflate level 6\n"));
  EXPECT_THAT(text, HasSubstr("compression: shuffle, deflate level 6"));
  EXPECT_THAT(text, HasSubstr("40 B raw"));
  EXPECT_THAT(text, HasSubstr("source = \"/data/x.idx\""));
  EXPECT_THAT(text, HasSubstr("columns = [\"a\", \"b\"]"));
  EXPECT_THAT(text, HasSubstr("version = 3"));
}

TEST(InspectTest, JsonCarriesTheSameFacts) {
  ScratchDir dir;
  const std::string path = dir / "t.h5";
  WriteFile(path, 10, 10, 0);
  auto info = InspectFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  const nlohmann::json json = nlohmann::json::parse(FormatInspectJson(*info));
  EXPECT_EQ(json["rows"], 10);
  EXPECT_EQ(json["attributes"]["created_by"], "a test");
  ASSERT_EQ(json["datasets"].size(), 2u);
  const auto& images = json["datasets"][0];
  EXPECT_EQ(images["name"], "images");
  EXPECT_EQ(images["dtype"], "uint8");
  EXPECT_EQ(images["shape"], nlohmann::json({10, 2, 2}));
  EXPECT_EQ(images["chunks"], nlohmann::json({4, 2, 2}));
  EXPECT_TRUE(images["filters"].empty());
  EXPECT_EQ(images["attributes"]["columns"], nlohmann::json({"a", "b"}));
  EXPECT_EQ(images["attributes"]["version"], 3);
}

TEST(InspectTest, SaysWhenLeadingDimensionsDiffer) {
  ScratchDir dir;
  const std::string path = dir / "t.h5";
  WriteFile(path, 10, 9, 1);
  auto info = InspectFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_FALSE(info->common_rows.has_value());
  EXPECT_THAT(FormatInspectText(*info),
              HasSubstr("their leading dimensions differ: images 10 labels 9"));
  EXPECT_EQ(nlohmann::json::parse(FormatInspectJson(*info))["rows"], nullptr);
}

TEST(InspectTest, ReadsContiguousDatasetsAndGroupsFromOtherWriters) {
  ScratchDir dir;
  const std::string path = dir / "other.h5";
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[2] = {3, 2};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t dataset =
      H5Dcreate2(file, "w", H5T_IEEE_F32BE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const float values[6] = {1, 2, 3, 4, 5, 6};
  H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
  const hid_t group = H5Gcreate2(file, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(group);
  H5Dclose(dataset);
  H5Sclose(space);
  H5Fclose(file);

  auto info = InspectFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->datasets.size(), 1u);
  EXPECT_EQ(info->datasets[0].dtype, "float32");
  EXPECT_EQ(info->datasets[0].layout, "contiguous");
  EXPECT_TRUE(info->datasets[0].chunks.empty());
  EXPECT_EQ(info->common_rows, 3u);
  EXPECT_THAT(info->others, ::testing::ElementsAre("group g"));
  EXPECT_THAT(FormatInspectText(*info), HasSubstr("layout:      contiguous\n  compression: none"));
}

TEST(InspectTest, RejectsWhatIsNotHdf5) {
  ScratchDir dir;
  const std::string path = dir / "x.csv";
  testing::WriteText(path, "a,b\n1,2\n");
  auto info = InspectFile(path);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.status().message(), HasSubstr(path + ": not an HDF5 file"));
  EXPECT_EQ(InspectFile(dir / "missing.h5").status().code(), train::StatusCode::kNotFound);
}

}  // namespace
}  // namespace trainctl::data
