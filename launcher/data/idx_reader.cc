#include "idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace trainctl::data {
namespace {

// More than any IDX file holds; guards against a corrupt header asking for petabytes.
constexpr uint64_t kMaxBytes = uint64_t{1} << 40;
// Reads go in pieces of this size, the buffer growing with each: memory follows the data that
// arrived, not the header's claim.
constexpr uint64_t kReadPiece = uint64_t{1} << 20;

std::string Mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

struct IdxType {
  uint8_t code;
  train::DType dtype;
};
constexpr IdxType kIdxTypes[] = {
    {0x08, train::DType::kUInt8}, {0x09, train::DType::kInt8},    {0x0B, train::DType::kInt16},
    {0x0C, train::DType::kInt32}, {0x0D, train::DType::kFloat32}, {0x0E, train::DType::kFloat64},
};

std::string Hex(const uint8_t* bytes, int n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

// IDX stores elements big-endian; turn each `size`-byte element around in place.
void ToNativeOrder(uint8_t* data, uint64_t bytes, uint64_t size) {
  if constexpr (std::endian::native == std::endian::big) return;
  if (size == 1) return;
  for (uint64_t i = 0; i + size <= bytes; i += size) std::reverse(data + i, data + i + size);
}

}  // namespace

uint64_t IdxHeader::row_elements() const {
  uint64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

uint64_t IdxHeader::row_bytes() const { return row_elements() * train::DTypeSize(dtype); }

std::string DimsText(const std::vector<uint64_t>& dims) {
  std::string out;
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? "x" : "") + std::to_string(dims[i]);
  return out;
}

train::Result<std::unique_ptr<IdxReader>> IdxReader::Open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return train::NotFoundError(path + ": no such file; check the path");
  }
  if (std::filesystem::is_directory(path, ec)) {
    return train::InvalidArgumentError(path + ": is a directory; give an IDX file");
  }
  // gzread passes a plain file through unchanged; gzdirect says which it was. Nothing else
  // reads the file, so a pipe works too.
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return train::UnavailableError(path + ": cannot open: " + std::strerror(errno));
  }
  gzbuffer(file, 1 << 18);
  std::unique_ptr<IdxReader> reader(new IdxReader(path, file));
  reader->header_.gzipped = gzdirect(file) == 0;
  TRAIN_RETURN_IF_ERROR(reader->ReadHeader());
  return reader;
}

IdxReader::~IdxReader() { gzclose(file_); }

train::Result<uint64_t> IdxReader::Read(uint8_t* out, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    const auto chunk = static_cast<unsigned>(std::min(size - done, kReadPiece));
    const int n = gzread(file_, out + done, chunk);
    if (n < 0) {
      int code = Z_OK;
      const char* message = gzerror(file_, &code);
      return train::DataLossError(path_ + ": " + (message ? message : "read error") +
                                  "; the file is corrupt or truncated, fetch it again");
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  return done;
}

train::Status IdxReader::ReadHeader() {
  uint8_t magic[4];
  TRAIN_ASSIGN_OR_RETURN(uint64_t got, Read(magic, sizeof(magic)));
  if (got < sizeof(magic)) {
    return train::DataLossError(path_ + ": " + std::to_string(got) +
                                " bytes, shorter than the 4-byte IDX magic; not an IDX file");
  }
  if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0) {
    return train::DataLossError(path_ + ": not an IDX file: magic " + Hex(magic, 4) +
                                ", expected 0x0000TTNN (TT the element type, NN the number of "
                                "dimensions, e.g. 0x00000803 for uint8 images)");
  }
  const IdxType* type = nullptr;
  for (const IdxType& t : kIdxTypes) {
    if (t.code == magic[2]) type = &t;
  }
  if (type == nullptr) {
    return train::DataLossError(path_ + ": IDX element type " + Hex(magic + 2, 1) +
                                " is unknown; IDX defines 0x08 (uint8), 0x09 (int8), 0x0b "
                                "(int16), 0x0c (int32), 0x0d (float32), 0x0e (float64)");
  }
  header_.dtype = type->dtype;

  const int ndims = magic[3];
  if (ndims > kMaxIdxDims) {
    return train::DataLossError(path_ + ": the magic " + Hex(magic, 4) + " announces " +
                                std::to_string(ndims) + " dimensions; HDF5 holds at most " +
                                std::to_string(kMaxIdxDims) + ": a corrupt header");
  }
  std::vector<uint8_t> raw(4 * static_cast<size_t>(ndims));
  TRAIN_ASSIGN_OR_RETURN(got, Read(raw.data(), raw.size()));
  if (got < raw.size()) {
    return train::DataLossError(path_ + ": truncated: the magic announces " +
                                std::to_string(ndims) +
                                " dimensions but the file ends inside their sizes");
  }
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* b = &raw[4 * static_cast<size_t>(i)];
    const uint64_t dim =
        (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | uint64_t{b[3]};
    header_.dims.push_back(dim);
  }
  // Checked in this order so that no product overflows: a row first (each factor < 2^32, the
  // running product <= kMaxIdxRowBytes), then the rows.
  uint64_t row_bytes = train::DTypeSize(header_.dtype);
  for (size_t i = 1; i < header_.dims.size(); ++i) {
    if (header_.dims[i] != 0 && row_bytes > kMaxIdxRowBytes / header_.dims[i]) {
      return train::DataLossError(path_ + ": the header says " + DimsText(header_.dims) + " " +
                                  std::string(train::DTypeName(header_.dtype)) +
                                  ": rows of more than " + Mib(kMaxIdxRowBytes) +
                                  " each; a corrupt header, or rows too large to import");
    }
    row_bytes *= header_.dims[i];
  }
  if (row_bytes > kMaxIdxRowBytes) {
    return train::DataLossError(path_ + ": the header says " + DimsText(header_.dims) +
                                ": rows of " + std::to_string(row_bytes) + " bytes, more than " +
                                Mib(kMaxIdxRowBytes) +
                                "; a corrupt header, or rows too large to import");
  }
  const uint64_t rows = header_.rows();
  if (row_bytes > 0 && rows > kMaxBytes / row_bytes) {
    return train::DataLossError(path_ + ": corrupt header: dimensions " + DimsText(header_.dims) +
                                " ask for more than 1 TiB");
  }
  const uint64_t bytes = rows * row_bytes;

  // A regular file's size says at once whether the header can describe it (a pipe's cannot).
  std::error_code ec;
  const uint64_t size =
      std::filesystem::is_regular_file(path_, ec) ? std::filesystem::file_size(path_, ec) : 0;
  if (ec || size == 0) return train::Status::Ok();
  const uint64_t expected = 4 + raw.size() + bytes;
  if (header_.gzipped) {
    if (expected / kMaxGzipRatio > size) {
      return train::DataLossError(
          path_ + ": the header says " + DimsText(header_.dims) + " " +
          std::string(train::DTypeName(header_.dtype)) + " (" + std::to_string(expected) +
          " bytes) but " + std::to_string(size) + " gzip'd bytes cannot decompress to more than " +
          std::to_string(size * kMaxGzipRatio) +
          "; the file is truncated or its header is corrupt, fetch it again");
    }
  } else {
    if (size != expected) {
      return train::DataLossError(
          path_ + ": the header says " + DimsText(header_.dims) + " " +
          std::string(train::DTypeName(header_.dtype)) + " (" + std::to_string(expected) +
          " bytes with the header) but the file holds " + std::to_string(size) + " bytes; " +
          (size < expected ? "it is truncated, fetch it again" : "it is not an IDX file"));
    }
  }
  return train::Status::Ok();
}

train::Status IdxReader::ReadRows(uint64_t rows, std::vector<uint8_t>* out) {
  if (rows_read_ + rows > header_.rows()) {
    return train::OutOfRangeError(path_ + ": reading rows " + std::to_string(rows_read_) + ".." +
                                  std::to_string(rows_read_ + rows) + " of " +
                                  std::to_string(header_.rows()));
  }
  const uint64_t row_bytes = header_.row_bytes();
  const uint64_t want = rows * row_bytes;
  out->clear();
  uint64_t got = 0;
  while (got < want) {
    const uint64_t piece = std::min(want - got, kReadPiece);
    out->resize(got + piece);
    TRAIN_ASSIGN_OR_RETURN(uint64_t n, Read(out->data() + got, piece));
    got += n;
    if (n < piece) break;
  }
  if (got < want) {
    const uint64_t row = rows_read_ + (row_bytes > 0 ? got / row_bytes : 0);
    return train::DataLossError(path_ + ": truncated: the file ends in row " + std::to_string(row) +
                                " of the " + std::to_string(header_.rows()) +
                                " its header announces (" + DimsText(header_.dims) +
                                "); fetch it again");
  }
  ToNativeOrder(out->data(), out->size(), train::DTypeSize(header_.dtype));
  rows_read_ += rows;
  return train::Status::Ok();
}

train::Status IdxReader::CheckAtEnd() {
  uint8_t extra;
  TRAIN_ASSIGN_OR_RETURN(uint64_t got, Read(&extra, 1));
  if (got > 0) {
    return train::DataLossError(path_ + ": more data than its header describes (" +
                                DimsText(header_.dims) + "): a corrupt header, or not an IDX file");
  }
  return train::Status::Ok();
}

train::Result<IdxArray> ReadIdxFile(const std::string& path) {
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<IdxReader> reader, IdxReader::Open(path));
  IdxArray array;
  array.header = reader->header();
  TRAIN_RETURN_IF_ERROR(reader->ReadRows(array.header.rows(), &array.data));
  TRAIN_RETURN_IF_ERROR(reader->CheckAtEnd());
  return array;
}

}  // namespace trainctl::data
