// Real HDF5 files for the dataset tests, written with the HDF5 C API into a temporary directory.
#ifndef TRAIN_TESTS_UNIT_DATA_DATASET_TEST_FILES_H_
#define TRAIN_TESTS_UNIT_DATA_DATASET_TEST_FILES_H_

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "train/dataset.h"

namespace train::testing {

struct DatasetSpec {
  std::string name;            // may contain '/': the groups are created
  hid_t file_type;             // e.g. H5T_STD_U8LE
  hid_t memory_type;           // the type of the elements at `data`, e.g. H5T_NATIVE_UINT8
  std::vector<hsize_t> shape;  // empty: a scalar
  const void* data;
  std::vector<hsize_t> chunk;  // empty: contiguous
  int gzip_level = 0;          // with a chunk: deflate at this level
};

// Writes a new file at `path` (replacing any) holding `datasets`; fails the test on error.
void WriteFile(const std::string& path, const std::vector<DatasetSpec>& datasets);
// Adds a dataset of variable-length strings to an existing file.
void AddStrings(const std::string& path, const std::string& name,
                const std::vector<std::string>& values);
// A float16 type (IEEE binary16, little-endian) for DatasetSpec::file_type; close it with
// CloseType.
hid_t NewFloat16Type();
void CloseType(hid_t type);

// An MNIST-like file of n rows with several dtypes, chunked and contiguous:
//   images   [n, 28, 28] uint8, chunks of chunk_rows rows, gzip
//   labels   [n] int64, contiguous
//   features [n, 3] float32, chunks of 7 rows, uncompressed
//   weights  [n] float64, chunks of 64 rows, gzip
//   offsets  [n, 5] int16, contiguous
// The values are a function of the row (see ExpectedRows).
void WriteMnistLike(const std::string& path, std::uint64_t n, hsize_t chunk_rows = 16);
std::uint8_t ImageValue(std::uint64_t row, int y, int x);
std::int64_t LabelValue(std::uint64_t row);
float FeatureValue(std::uint64_t row, int k);
double WeightValue(std::uint64_t row);
std::int16_t OffsetValue(std::uint64_t row, int j);

// The bytes a batch of MnistLike field `field` holds for `indices`, in the stored type.
std::vector<std::byte> ExpectedRows(const std::string& field,
                                    const std::vector<std::uint64_t>& indices);

// Expects `batch` to hold exactly the MnistLike rows `indices` of `fields` in the stored types.
void ExpectMnistRows(const Batch& batch, const std::vector<std::uint64_t>& indices,
                     const std::vector<std::string>& fields = {"images", "labels", "features",
                                                               "weights", "offsets"});

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_DATA_DATASET_TEST_FILES_H_
