// Scratch directories, IDX files written byte by byte, and HDF5 datasets read back through the
// C API: what the data tools' tests share.
#ifndef TRAINCTL_TESTS_DATATOOLS_TEST_UTIL_H_
#define TRAINCTL_TESTS_DATATOOLS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <hdf5.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../../scratch_dir.h"

namespace trainctl::data::testing {

namespace fs = std::filesystem;

using ::train::testing::ScratchDir;

// The name of every entry in `dir`, hidden ones included.
inline std::set<std::string> EntryNames(const ScratchDir& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

inline void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr) << path;
    if (!bytes.empty()) {
      ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()));
    }
    ASSERT_EQ(gzclose(file), Z_OK);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
  }
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// An IDX file's bytes: magic, big-endian dims, then `body` (already big-endian).
inline std::vector<uint8_t> IdxBytes(uint8_t type, const std::vector<uint32_t>& dims,
                                     const std::vector<uint8_t>& body) {
  std::vector<uint8_t> bytes = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(d >> shift));
  }
  bytes.insert(bytes.end(), body.begin(), body.end());
  return bytes;
}

// Deterministic pseudo-random bytes.
inline std::vector<uint8_t> SomeBytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return out;
}

// A dataset read back whole with the HDF5 C API, in `mem_type`.
template <typename T>
struct ReadBack {
  std::vector<uint64_t> shape;
  std::vector<T> values;
  std::vector<uint64_t> chunks;  // empty when not chunked
  int deflate_level = -1;        // -1: no deflate filter
  H5T_class_t type_class = H5T_NO_CLASS;
  size_t type_size = 0;
  H5T_sign_t sign = H5T_SGN_ERROR;
};

template <typename T>
ReadBack<T> ReadDataset(const std::string& path, const std::string& name, hid_t mem_type) {
  ReadBack<T> out;
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(file, 0) << path;
  if (file < 0) return out;
  const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  EXPECT_GE(dataset, 0) << name;
  if (dataset >= 0) {
    const hid_t space = H5Dget_space(dataset);
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    out.shape.assign(dims.begin(), dims.end());
    out.values.resize(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
    EXPECT_GE(H5Dread(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()), 0);
    const hid_t type = H5Dget_type(dataset);
    out.type_class = H5Tget_class(type);
    out.type_size = H5Tget_size(type);
    out.sign = H5Tget_sign(type);
    const hid_t create = H5Dget_create_plist(dataset);
    if (H5Pget_layout(create) == H5D_CHUNKED) {
      std::vector<hsize_t> chunk(static_cast<size_t>(rank));
      H5Pget_chunk(create, rank, chunk.data());
      out.chunks.assign(chunk.begin(), chunk.end());
    }
    for (int i = 0; i < H5Pget_nfilters(create); ++i) {
      unsigned flags = 0, options[4] = {}, config = 0;
      size_t count = 4;
      if (H5Pget_filter2(create, static_cast<unsigned>(i), &flags, &count, options, 0, nullptr,
                         &config) == H5Z_FILTER_DEFLATE) {
        out.deflate_level = static_cast<int>(options[0]);
      }
    }
    H5Pclose(create);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(dataset);
  }
  H5Fclose(file);
  return out;
}

}  // namespace trainctl::data::testing

#endif  // TRAINCTL_TESTS_DATATOOLS_TEST_UTIL_H_
