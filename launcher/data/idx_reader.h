// Reads IDX files (the MNIST family's format) row by row, gzip'd or plain.
//
// An IDX file is a 4-byte magic (0, 0, element type, number of dimensions), one big-endian
// uint32 per dimension, then the elements, big-endian, in row-major order. A row is one item of
// the leading dimension: one image of an images file, one label of a labels file.
#ifndef TRAINCTL_DATA_IDX_READER_H_
#define TRAINCTL_DATA_IDX_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/dtype.h"
#include "train/status.h"

struct gzFile_s;  // zlib's file handle, kept out of this header

namespace trainctl::data {

// A row (one image) larger than this is refused: rows are what the import holds in memory and
// writes as one HDF5 chunk at least.
inline constexpr uint64_t kMaxIdxRowBytes = uint64_t{64} << 20;
// HDF5's limit on the number of dimensions.
inline constexpr int kMaxIdxDims = 32;
// deflate's largest possible expansion: a gzip'd file of N bytes never holds more than about
// 1032 N bytes, so a header that claims more is corrupt whatever follows.
inline constexpr uint64_t kMaxGzipRatio = 1032;

struct IdxHeader {
  train::DType dtype = train::DType::kUInt8;  // from the magic's type byte
  std::vector<uint64_t> dims;                 // outermost first: {count, rows, cols} for images
  bool gzipped = false;                       // the file starts with gzip's magic bytes

  uint64_t rows() const { return dims.empty() ? 0 : dims[0]; }
  uint64_t row_elements() const;  // product of the dimensions after the first
  uint64_t row_bytes() const;
};

// "60000x28x28".
std::string DimsText(const std::vector<uint64_t>& dims);

class IdxReader {
 public:
  // Opens `path` (a pipe too) and reads its header. Errors name the file: kNotFound when it is
  // missing, kDataLoss for a bad magic, an unsupported element type, more than kMaxIdxDims
  // dimensions, rows over kMaxIdxRowBytes, or a header that claims more than the file holds:
  // a plain file's size must match exactly; a gzip'd file must be large enough to decompress
  // to the claim (kMaxGzipRatio), and is otherwise checked as it is read. Nothing is allocated
  // from the header's claim: reads grow their buffer only as the data arrives.
  static train::Result<std::unique_ptr<IdxReader>> Open(const std::string& path);

  ~IdxReader();
  IdxReader(const IdxReader&) = delete;
  IdxReader& operator=(const IdxReader&) = delete;

  const std::string& path() const { return path_; }
  const IdxHeader& header() const { return header_; }
  uint64_t rows_read() const { return rows_read_; }

  // Reads the next `rows` rows into `out` (resized to rows * row_bytes), in native byte order.
  // kDataLoss naming the row when the file ends early; kOutOfRange past the last row. `out`
  // grows as the bytes arrive, so a file that ends early never costs the rows it claimed.
  train::Status ReadRows(uint64_t rows, std::vector<uint8_t>* out);

  // After the last row: kDataLoss when bytes remain that the header does not describe.
  train::Status CheckAtEnd();

 private:
  IdxReader(std::string path, gzFile_s* file) : path_(std::move(path)), file_(file) {}
  train::Status ReadHeader();
  // Reads up to `size` bytes; returns how many, or kDataLoss for a corrupt stream.
  train::Result<uint64_t> Read(uint8_t* out, uint64_t size);

  std::string path_;
  gzFile_s* file_;
  IdxHeader header_;
  uint64_t rows_read_ = 0;
};

// The whole file at once, for small files and tests.
struct IdxArray {
  IdxHeader header;
  std::vector<uint8_t> data;  // native byte order
};
train::Result<IdxArray> ReadIdxFile(const std::string& path);

}  // namespace trainctl::data

#endif  // TRAINCTL_DATA_IDX_READER_H_
