#include "dataset_test_files.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "train/internal/hdf5_util.h"

namespace train::testing {

using internal::Hdf5Lock;
using internal::Hid;

namespace {

void WriteDataset(hid_t file, const DatasetSpec& spec) {
  Hid space(spec.shape.empty()
                ? H5Screate(H5S_SCALAR)
                : H5Screate_simple(static_cast<int>(spec.shape.size()), spec.shape.data(), nullptr),
            H5Sclose);
  Hid create_plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!spec.chunk.empty()) {
    H5Pset_chunk(create_plist.get(), static_cast<int>(spec.chunk.size()), spec.chunk.data());
    if (spec.gzip_level > 0) H5Pset_deflate(create_plist.get(), spec.gzip_level);
  }
  Hid link_plist(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(link_plist.get(), 1);
  Hid dataset(H5Dcreate2(file, spec.name.c_str(), spec.file_type, space.get(), link_plist.get(),
                         create_plist.get(), H5P_DEFAULT),
              H5Dclose);
  ASSERT_TRUE(dataset.valid()) << "H5Dcreate2 " << spec.name;
  ASSERT_GE(H5Dwrite(dataset.get(), spec.memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, spec.data), 0)
      << "H5Dwrite " << spec.name;
}

}  // namespace

void WriteFile(const std::string& path, const std::vector<DatasetSpec>& datasets) {
  Hdf5Lock lock;
  Hid file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  ASSERT_TRUE(file.valid()) << "H5Fcreate " << path;
  for (const DatasetSpec& spec : datasets) WriteDataset(file.get(), spec);
}

void AddStrings(const std::string& path, const std::string& name,
                const std::vector<std::string>& values) {
  Hdf5Lock lock;
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  ASSERT_TRUE(file.valid()) << "H5Fopen " << path;
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  std::vector<const char*> pointers;
  for (const std::string& value : values) pointers.push_back(value.c_str());
  const hsize_t count = values.size();
  Hid space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  Hid dataset(H5Dcreate2(file.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                         H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  ASSERT_TRUE(dataset.valid());
  ASSERT_GE(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), 0);
}

hid_t NewFloat16Type() {
  Hdf5Lock lock;
  // The layout h5py and numpy use for float16.
  const hid_t type = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(type, 15, 10, 5, 0, 10);
  H5Tset_size(type, 2);
  H5Tset_ebias(type, 15);
  return type;
}

void CloseType(hid_t type) {
  Hdf5Lock lock;
  H5Tclose(type);
}

std::uint8_t ImageValue(std::uint64_t row, int y, int x) {
  return static_cast<std::uint8_t>((row * 7 + static_cast<std::uint64_t>(y) * 28 + x) % 251);
}
std::int64_t LabelValue(std::uint64_t row) {
  return static_cast<std::int64_t>(row) * 100003 - 50000000;
}
float FeatureValue(std::uint64_t row, int k) { return static_cast<float>(row) + 0.25f * k; }
double WeightValue(std::uint64_t row) { return 1e-3 * static_cast<double>(row) + 1.0 / 3; }
std::int16_t OffsetValue(std::uint64_t row, int j) {
  return static_cast<std::int16_t>(static_cast<int>(row % 30000) - 15000 + j);
}

void WriteMnistLike(const std::string& path, std::uint64_t n, hsize_t chunk_rows) {
  std::vector<std::uint64_t> all(n);
  for (std::uint64_t i = 0; i < n; ++i) all[i] = i;
  const std::vector<std::byte> images = ExpectedRows("images", all);
  const std::vector<std::byte> labels = ExpectedRows("labels", all);
  const std::vector<std::byte> features = ExpectedRows("features", all);
  const std::vector<std::byte> weights = ExpectedRows("weights", all);
  const std::vector<std::byte> offsets = ExpectedRows("offsets", all);
  const hsize_t rows = n;
  // Fixed-size datasets cannot have chunks longer than they are.
  const auto chunk = [&](hsize_t length) { return std::max<hsize_t>(1, std::min(length, rows)); };
  WriteFile(
      path,
      {
          {"images",
           H5T_STD_U8LE,
           H5T_NATIVE_UINT8,
           {rows, 28, 28},
           images.data(),
           {chunk(chunk_rows), 28, 28},
           4},
          {"labels", H5T_STD_I64LE, H5T_NATIVE_INT64, {rows}, labels.data(), {}, 0},
          {"features",
           H5T_IEEE_F32LE,
           H5T_NATIVE_FLOAT,
           {rows, 3},
           features.data(),
           {chunk(7), 3},
           0},
          {"weights", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {rows}, weights.data(), {chunk(64)}, 6},
          {"offsets", H5T_STD_I16LE, H5T_NATIVE_INT16, {rows, 5}, offsets.data(), {}, 0},
      });
}

namespace {
template <class T>
void Append(std::vector<std::byte>& out, T value) {
  const std::size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}
}  // namespace

std::vector<std::byte> ExpectedRows(const std::string& field,
                                    const std::vector<std::uint64_t>& indices) {
  std::vector<std::byte> out;
  for (std::uint64_t row : indices) {
    if (field == "images") {
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) Append(out, ImageValue(row, y, x));
    } else if (field == "labels") {
      Append(out, LabelValue(row));
    } else if (field == "features") {
      for (int k = 0; k < 3; ++k) Append(out, FeatureValue(row, k));
    } else if (field == "weights") {
      Append(out, WeightValue(row));
    } else if (field == "offsets") {
      for (int j = 0; j < 5; ++j) Append(out, OffsetValue(row, j));
    } else {
      ADD_FAILURE() << "no MnistLike field " << field;
    }
  }
  return out;
}

void ExpectMnistRows(const Batch& batch, const std::vector<std::uint64_t>& indices,
                     const std::vector<std::string>& fields) {
  EXPECT_EQ(batch.size(), fields.size());
  for (const std::string& field : fields) {
    const auto it = batch.find(field);
    ASSERT_NE(it, batch.end()) << "no field " << field << " in the batch";
    ASSERT_FALSE(it->second.shape.empty());
    EXPECT_EQ(it->second.shape[0], indices.size()) << field;
    EXPECT_TRUE(it->second.bytes == ExpectedRows(field, indices))
        << "field " << field << " does not hold the rows asked for";
  }
}

}  // namespace train::testing
