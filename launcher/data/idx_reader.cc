#include "idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace trainctl::data {
namespace {

// More than any IDX file holds; guards against a corrupt header asking for petabytes.
constexpr uint64_t kMaxBytes = uint64_t{1} << 40;
// gzread takes an int-sized length.
constexpr uint64_t kMaxReadChunk = uint64_t{1} << 30;

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
  uint8_t start[2] = {0, 0};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return train::UnavailableError(path + ": cannot open: " + std::strerror(errno));
    in.read(reinterpret_cast<char*>(start), 2);
  }
  gzFile file = gzopen(path.c_str(), "rb");  // gzread passes a plain file through unchanged
  if (file == nullptr) {
    return train::UnavailableError(path + ": cannot open: " + std::strerror(errno));
  }
  gzbuffer(file, 1 << 18);
  std::unique_ptr<IdxReader> reader(new IdxReader(path, file));
  reader->header_.gzipped = start[0] == 0x1f && start[1] == 0x8b;
  TRAIN_RETURN_IF_ERROR(reader->ReadHeader());
  return reader;
}

IdxReader::~IdxReader() { gzclose(file_); }

train::Result<uint64_t> IdxReader::Read(uint8_t* out, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    const auto chunk = static_cast<unsigned>(std::min(size - done, kMaxReadChunk));
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
  std::vector<uint8_t> raw(4 * static_cast<size_t>(ndims));
  TRAIN_ASSIGN_OR_RETURN(got, Read(raw.data(), raw.size()));
  if (got < raw.size()) {
    return train::DataLossError(path_ + ": truncated: the magic announces " +
                                std::to_string(ndims) +
                                " dimensions but the file ends inside their sizes");
  }
  uint64_t bytes = train::DTypeSize(header_.dtype);
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* b = &raw[4 * static_cast<size_t>(i)];
    const uint64_t dim =
        (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | uint64_t{b[3]};
    header_.dims.push_back(dim);
    bytes *= dim;
    if (bytes > kMaxBytes) {
      return train::DataLossError(path_ + ": corrupt header: dimensions " + DimsText(header_.dims) +
                                  "... ask for more than 1 TiB");
    }
  }

  if (!header_.gzipped) {
    // A plain file's size says at once whether the header describes it.
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path_, ec);
    const uint64_t expected = 4 + raw.size() + bytes;
    if (!ec && size != expected) {
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
  out->resize(rows * row_bytes);
  TRAIN_ASSIGN_OR_RETURN(uint64_t got, Read(out->data(), out->size()));
  if (got < out->size()) {
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
