// Element types: what a file stores, and the memory types HDF5 converts to.
#ifndef TRAIN_DATA_HDF5_TYPES_H_
#define TRAIN_DATA_HDF5_TYPES_H_

#include <hdf5.h>

#include <optional>
#include <string>

#include "train/dtype.h"
#include "train/internal/hdf5_util.h"

namespace train::internal {

struct StoredType {
  bool numeric = false;        // an integer or floating-point type HDF5 can convert
  std::optional<DType> dtype;  // the DType with the same values; none for e.g. uint16
  std::string description;     // "uint8", "uint16", "float32 big-endian", "string", ...
};

// Classifies a dataset's file type (under the Hdf5Lock).
StoredType DescribeStoredType(hid_t file_type);

// The HDF5 memory type for `dtype` when HDF5 can convert to it (the numeric types other than
// float16 and bfloat16), else nullopt. Not owned: predefined types are never closed.
std::optional<hid_t> NativeType(DType dtype);

// A memory type with the layout of `file_type` in native byte order, for reading float16 or
// bfloat16 without conversion.
Result<Hid> NativeOrderCopy(hid_t file_type);

}  // namespace train::internal

#endif  // TRAIN_DATA_HDF5_TYPES_H_
