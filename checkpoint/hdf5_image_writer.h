// Builds one checkpoint file as an HDF5 image in memory (the core driver, no backing store):
// the image is the host snapshot of what the file will hold, written to disk afterwards in
// large sequential chunks through the file layer, and checksummed from memory.
#ifndef TRAIN_CHECKPOINT_HDF5_IMAGE_WRITER_H_
#define TRAIN_CHECKPOINT_HDF5_IMAGE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/dtype.h"
#include "train/status.h"

namespace train::internal {

struct DatasetToWrite {
  std::string path;  // "tensors/layer1/weight": groups are created on the way
  DType dtype = DType::kFloat32;
  std::vector<std::uint64_t> dims;  // the dataset's shape; its product is the element count
  const void* data = nullptr;       // host memory holding the elements
  std::vector<std::uint64_t> shape_attribute;     // the global tensor's shape
  std::optional<std::uint64_t> offset_attribute;  // a sharded piece's first element
};

struct Hdf5Image {
  std::vector<std::byte> bytes;
  // For each dataset, in order: where its elements start in the file (0 when it has none).
  std::vector<std::uint64_t> data_offsets;
};

// Every dataset is contiguous, little-endian, with a "dtype" attribute (train's DTypeName) and
// a "shape" attribute; float16 is IEEE half (h5py reads it as float16), bfloat16 is stored as
// uint16. No timestamps are recorded, so the same input gives the same bytes.
// `file_name` names the file in errors. Takes the process's HDF5 lock.
Result<Hdf5Image> BuildHdf5Image(const std::vector<DatasetToWrite>& datasets,
                                 const std::string& file_name);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_HDF5_IMAGE_WRITER_H_
