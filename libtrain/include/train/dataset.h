// Reading training data from an HDF5 file: rows of several fields, by index, in any order.
//
// A file holds fields: datasets that share a leading dimension N (the rows), such as images
// [N, 28, 28] uint8 and labels [N] int64. A batch is a set of row indices, typically one
// sampler step; Read returns, for every field, a tensor [indices.size(), ...rest of the field's
// shape] with the rows in the order asked for (repeats allowed).
//
// Rows are read in blocks aligned to the file's chunks (a block is chunk_shape[0] rows; 64 rows
// or fewer for a contiguous field), each block with one HDF5 read that decompresses its chunks
// once. A Dataset keeps the blocks it read, decompressed and converted, up to
// DatasetOptions::chunk_cache_bytes (least recently used out), and copies rows from them: once
// a file fits, later epochs read from memory. For shuffled training, chunk the leading
// dimension small (one to a few dozen rows): a random row not kept costs reading and
// decompressing its whole chunk.
//
// Threads: every method may be called from any thread. HDF5 calls are serialized through one
// process-wide lock, and the background reads of Prefetch take it too.
//
// fork(): the file is open only while a read runs (opening it costs about 0.1 ms per Read that
// misses a block), and fork waits for a read in progress, so a child never inherits an open
// HDF5 file. A Dataset opened in the parent must not be used in the child: its methods return
// FAILED_PRECONDITION there (destroying it is allowed). Open a new Dataset in the child.
#ifndef TRAIN_DATASET_H_
#define TRAIN_DATASET_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "train/dtype.h"
#include "train/status.h"

namespace train {

// One field of the file, as Open found it.
struct FieldInfo {
  std::string name;                        // its path in the file, e.g. "images"
  DType dtype = DType::kFloat32;           // of the tensors Read returns (read_as, else stored)
  std::string stored_type;                 // the file's element type: "uint8", "uint16", ...
  std::vector<std::uint64_t> shape;        // [N, ...]
  std::vector<std::uint64_t> chunk_shape;  // HDF5 chunk dimensions; empty when not chunked
};

// A dense row-major tensor in host memory.
struct HostTensor {
  DType dtype = DType::kFloat32;
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;  // num_elements() * DTypeSize(dtype)

  std::uint64_t num_elements() const {
    std::uint64_t n = 1;
    for (std::uint64_t d : shape) n *= d;
    return n;
  }
  // The elements as T: float, double, the <cstdint> integers, and std::uint16_t for the bits
  // of float16 and bfloat16. Aborts when T does not match dtype.
  template <class T>
  T* data() {
    CheckElementType(Matches<T>(), sizeof(T));
    return reinterpret_cast<T*>(bytes.data());
  }
  template <class T>
  const T* data() const {
    CheckElementType(Matches<T>(), sizeof(T));
    return reinterpret_cast<const T*>(bytes.data());
  }

 private:
  template <class T>
  bool Matches() const {
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_same_v<U, float>) return dtype == DType::kFloat32;
    if constexpr (std::is_same_v<U, double>) return dtype == DType::kFloat64;
    if constexpr (std::is_same_v<U, std::uint16_t>)
      return dtype == DType::kFloat16 || dtype == DType::kBFloat16;
    if constexpr (std::is_same_v<U, std::int8_t>) return dtype == DType::kInt8;
    if constexpr (std::is_same_v<U, std::uint8_t>) return dtype == DType::kUInt8;
    if constexpr (std::is_same_v<U, std::int16_t>) return dtype == DType::kInt16;
    if constexpr (std::is_same_v<U, std::int32_t>) return dtype == DType::kInt32;
    if constexpr (std::is_same_v<U, std::int64_t>) return dtype == DType::kInt64;
    return false;
  }
  void CheckElementType(bool matches, std::size_t element_size) const;
};

// Field name -> [batch, ...rest of the field's shape].
using Batch = std::map<std::string, HostTensor>;

struct DatasetOptions {
  // The fields to read; empty: every dataset at the file's root (each must be numeric).
  std::vector<std::string> fields;
  // Type conversion on read, per field (default: the stored type). Integers and floats convert
  // into each other as HDF5 converts them: out-of-range values saturate. float16 and bfloat16
  // round to nearest even.
  std::map<std::string, DType> read_as;
  // Batches queued by Prefetch and not yet taken by Next; Prefetch blocks beyond this. >= 1.
  std::size_t prefetch_depth = 2;
  // Bytes of decompressed, converted blocks of rows the Dataset keeps between reads (see
  // above); a block larger than this is read for each batch that needs it and not kept.
  std::size_t chunk_cache_bytes = std::size_t{256} << 20;
};

class Dataset {
 public:
  // Opens `path` and checks every field: it exists, is numeric (or has a read_as), and has the
  // same leading dimension as the others. Errors name the file and field: NOT_FOUND (no such
  // file or field), INVALID_ARGUMENT (not HDF5, a field that does not fit, bad options),
  // DATA_LOSS (a truncated or corrupt file).
  static Result<std::unique_ptr<Dataset>> Open(const std::string& path,
                                               const DatasetOptions& options = {});
  // Waits for a background read in progress; batches still queued are dropped.
  ~Dataset();
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  const std::string& path() const;
  std::uint64_t size() const;  // N: the common leading dimension
  const std::vector<FieldInfo>& fields() const;

  // The rows `indices` of every field, in the order given (repeats allowed; an empty list gives
  // tensors with a leading dimension of 0). OUT_OF_RANGE for an index >= size(); DATA_LOSS when
  // HDF5 cannot read the data; FAILED_PRECONDITION when the file changed since Open. Only
  // blocks not kept in memory are read from the file, so only those see such errors.
  Result<Batch> Read(const std::vector<std::uint64_t>& indices);

  // Queues Read(indices) to run in the background; Next returns the results in the order
  // queued. Blocks while prefetch_depth batches are queued and not yet taken by Next, up to
  // `timeout` (DEADLINE_EXCEEDED); a single thread must call Next before queueing more than
  // prefetch_depth. Indices are checked here (OUT_OF_RANGE); read errors come from Next.
  Status Prefetch(std::vector<std::uint64_t> indices,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  // The oldest queued batch, waiting for its read to finish. FAILED_PRECONDITION when none is
  // queued.
  Result<Batch> Next();

  // Batches queued by Prefetch and not yet taken by Next (0 in a forked child).
  std::size_t queued() const;

 private:
  struct Impl;
  explicit Dataset(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace train

#endif  // TRAIN_DATASET_H_
