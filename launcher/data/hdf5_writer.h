// HDF5 through its C API: handles that close themselves, errors as Status, and a writer for
// row-chunked datasets (the leading dimension is the rows: one image, one label, one record).
#ifndef TRAINCTL_DATA_HDF5_WRITER_H_
#define TRAINCTL_DATA_HDF5_WRITER_H_

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "train/dtype.h"
#include "train/status.h"

namespace trainctl::data {

// Turns off HDF5's printing of its error stack (once per process): errors come back as Status.
void SilenceHdf5Errors();

// A Status for a failed HDF5 call: "what: " and HDF5's error stack, innermost call last; the
// stack is cleared.
train::Status Hdf5Error(std::string_view what);

// An hid_t closed by `CloseFn` when the handle goes away.
template <herr_t (*CloseFn)(hid_t)>
class Hdf5Handle {
 public:
  Hdf5Handle() = default;
  explicit Hdf5Handle(hid_t id) : id_(id) {}
  Hdf5Handle(const Hdf5Handle&) = delete;
  Hdf5Handle& operator=(const Hdf5Handle&) = delete;
  Hdf5Handle(Hdf5Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Hdf5Handle& operator=(Hdf5Handle&& other) noexcept {
    if (this != &other) {
      Reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Hdf5Handle() { Reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

  // Closes now; a failure comes back as Status (the destructor can only drop it).
  train::Status Close(std::string_view what) {
    if (!valid()) return train::Status::Ok();
    const herr_t rc = CloseFn(std::exchange(id_, H5I_INVALID_HID));
    return rc < 0 ? Hdf5Error(what) : train::Status::Ok();
  }
  void Reset() {
    if (valid()) CloseFn(std::exchange(id_, H5I_INVALID_HID));
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using FileHandle = Hdf5Handle<H5Fclose>;
using DatasetHandle = Hdf5Handle<H5Dclose>;
using SpaceHandle = Hdf5Handle<H5Sclose>;
using PlistHandle = Hdf5Handle<H5Pclose>;
using TypeHandle = Hdf5Handle<H5Tclose>;
using AttrHandle = Hdf5Handle<H5Aclose>;

// HDF5's native (in-memory) type for a DType; a library constant, not to be closed.
// float16 and bfloat16 have none: kInvalidArgument.
train::Result<hid_t> NativeType(train::DType dtype);

// Attributes on a file, group or dataset: variable-length UTF-8 strings (what h5py reads as
// str), a 1-D array of them, or a 64-bit integer.
train::Status WriteAttribute(hid_t object, std::string_view name, std::string_view value);
train::Status WriteAttribute(hid_t object, std::string_view name,
                             const std::vector<std::string>& values);
train::Status WriteAttribute(hid_t object, std::string_view name, int64_t value);

// Rows per chunk when none is given: the largest power of two whose rows fit in 32 KiB, at most
// 1024, at least 1, at most `rows`. Small because readers shuffle: a random row costs reading
// and decompressing its whole chunk (64 random Fashion-MNIST images took 6 ms with 32-row
// chunks, 185 ms with 1024-row ones), while compression barely suffers (+1% on disk).
uint64_t DefaultChunkRows(uint64_t row_bytes, uint64_t rows);

struct DatasetSpec {
  std::string name;
  train::DType dtype = train::DType::kUInt8;
  std::vector<uint64_t> shape;  // shape[0] is the number of rows
  uint64_t chunk_rows = 0;      // 0: DefaultChunkRows; capped at the rows
  int compression = 4;          // deflate (gzip) level 0-9; 0 stores chunks as they are
  // The rows are not known in advance (a streamed input): the dataset starts with 0 rows and
  // grows with each write; shape[0] only sizes the default chunks.
  bool growable = false;
};

// Creates a dataset chunked along its rows and fills it in row order. Multi-byte elements are
// byte-shuffled before deflate, which compresses integers and floats much better.
class DatasetWriter {
 public:
  // Creates `spec.name` in `file`; kInvalidArgument for a bad spec. Errors name `file_name`.
  static train::Result<DatasetWriter> Create(hid_t file, const DatasetSpec& spec,
                                             std::string_view file_name);

  // Writes the next `rows` rows from `data` (native byte order, row-major); a growable dataset
  // grows by them.
  train::Status WriteRows(const void* data, uint64_t rows);

  // Closes the dataset; kInternal when fewer rows were written than its shape holds (a
  // growable dataset holds what was written).
  train::Status Finish();

  hid_t id() const { return dataset_.get(); }
  uint64_t rows_written() const { return rows_written_; }
  uint64_t chunk_rows() const { return chunk_rows_; }
  uint64_t row_bytes() const { return row_elements_ * element_size_; }

 private:
  DatasetWriter() = default;

  std::string where_;  // "FILE: dataset NAME", for errors
  DatasetHandle dataset_;
  hid_t mem_type_ = H5I_INVALID_HID;  // a library constant
  std::vector<hsize_t> shape_;
  uint64_t row_elements_ = 1;
  uint64_t element_size_ = 1;
  uint64_t chunk_rows_ = 1;
  uint64_t rows_written_ = 0;
  bool growable_ = false;
};

// Creates a new HDF5 file; kAlreadyExists when `path` exists (callers write to a fresh
// temporary file, see AtomicOutput).
train::Result<FileHandle> CreateHdf5File(const std::string& path);

// Flushes and closes a file created above, reporting what HDF5 could not write.
train::Status CloseHdf5File(FileHandle file, std::string_view path);

}  // namespace trainctl::data

#endif  // TRAINCTL_DATA_HDF5_WRITER_H_
