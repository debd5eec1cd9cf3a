#include "idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

namespace fashion_mnist {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;
// More than any MNIST-like file needs; guards against a corrupt header asking for terabytes.
constexpr uint64_t kMaxElements = uint64_t{1} << 32;

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to `size` bytes; returns how many were read, or -1 with `error` set.
int64_t ReadFully(gzFile file, uint8_t* out, uint64_t size, std::string* error) {
  uint64_t done = 0;
  while (done < size) {
    // gzread takes an unsigned int length: read in chunks well below its limit.
    const auto chunk = static_cast<unsigned>(std::min<uint64_t>(size - done, 1u << 30));
    const int n = gzread(file, out + done, chunk);
    if (n < 0) {
      int code = Z_OK;
      *error = gzerror(file, &code);
      return -1;
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  return static_cast<int64_t>(done);
}

std::string Hex(const uint8_t* bytes, int n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

train::Result<IdxArray> ReadIdx(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return train::NotFoundError(path + ": no such file");
  }
  // gzopen reads a file without a gzip header transparently, so plain IDX files work too.
  GzFile file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) {
    return train::UnavailableError(path + ": cannot open: " + std::strerror(errno));
  }
  gzbuffer(file.get(), 1 << 17);

  std::string error;
  uint8_t magic[4];
  int64_t got = ReadFully(file.get(), magic, sizeof(magic), &error);
  if (got < 0) return train::DataLossError(path + ": " + error);
  if (got < 4) {
    return train::DataLossError(path + ": truncated: " + std::to_string(got) +
                                " bytes, shorter than the 4-byte IDX magic");
  }
  if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0) {
    return train::DataLossError(path + ": not an IDX file: magic " + Hex(magic, 4) +
                                ", expected 0x0000TTNN (TT the type, NN the dimensions)");
  }
  if (magic[2] != kUnsignedByte) {
    return train::DataLossError(path + ": IDX data type " + Hex(magic + 2, 1) +
                                " is not supported; only unsigned bytes (0x08) are");
  }

  IdxArray array;
  const int ndims = magic[3];
  std::vector<uint8_t> header(4 * static_cast<size_t>(ndims));
  got = ReadFully(file.get(), header.data(), header.size(), &error);
  if (got < 0) return train::DataLossError(path + ": " + error);
  if (static_cast<size_t>(got) < header.size()) {
    return train::DataLossError(path + ": truncated: the header names " + std::to_string(ndims) +
                                " dimensions but the file ends inside them");
  }
  uint64_t elements = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* b = &header[4 * static_cast<size_t>(i)];
    const uint32_t dim =
        (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
    array.dims.push_back(dim);
    elements *= dim;
    if (elements > kMaxElements) {
      return train::DataLossError(path + ": corrupt header: dimensions ask for more than " +
                                  std::to_string(kMaxElements) + " elements");
    }
  }

  array.data.resize(elements);
  got = ReadFully(file.get(), array.data.data(), elements, &error);
  if (got < 0) return train::DataLossError(path + ": " + error);
  if (static_cast<uint64_t>(got) < elements) {
    std::ostringstream dims;
    for (size_t i = 0; i < array.dims.size(); ++i) dims << (i ? "x" : "") << array.dims[i];
    return train::DataLossError(path + ": truncated: the header says " + dims.str() + " (" +
                                std::to_string(elements) + " bytes of data) but only " +
                                std::to_string(got) + " follow");
  }
  uint8_t extra;
  got = ReadFully(file.get(), &extra, 1, &error);
  if (got < 0) return train::DataLossError(path + ": " + error);
  if (got > 0) {
    return train::DataLossError(path +
                                ": more data than its header describes: not an IDX file "
                                "of this shape, or a corrupt one");
  }
  return array;
}

}  // namespace fashion_mnist
