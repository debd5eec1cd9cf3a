// What an HDF5 file holds: each root dataset's type, shape, chunking, filters, size on disk and
// attributes, and the leading dimension they share. Reads any HDF5 file, not only imports.
#ifndef TRAINCTL_DATA_INSPECT_H_
#define TRAINCTL_DATA_INSPECT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "train/status.h"

namespace trainctl::data {

struct AttributeInfo {
  std::string name;
  std::string type;             // "string", "int64", "float64", ... or what could not be read
  std::vector<uint64_t> shape;  // empty for a scalar
  std::variant<std::monostate, std::vector<std::string>, std::vector<int64_t>,
               std::vector<uint64_t>, std::vector<double>>
      values;  // monostate when the type is not one of these
};

struct FilterInfo {
  static constexpr int kDeflateId = 1;  // H5Z_FILTER_DEFLATE; options[0] is its level

  std::string name;               // "deflate", "shuffle", "fletcher32", ... as HDF5 names it
  int id = 0;                     // H5Z filter id
  std::vector<unsigned> options;  // deflate: {level}
};

struct DatasetInfo {
  std::string name;
  std::string dtype;  // "uint8", "float64", "string", "compound(24 bytes)", ...
  std::vector<uint64_t> shape;
  std::string layout;            // "chunked", "contiguous", "compact", "virtual"
  std::vector<uint64_t> chunks;  // empty unless chunked
  std::vector<FilterInfo> filters;
  uint64_t storage_bytes = 0;  // allocated in the file
  uint64_t raw_bytes = 0;      // elements x element size
  std::vector<AttributeInfo> attributes;
};

struct FileInfo {
  std::string path;
  uint64_t file_bytes = 0;
  std::vector<AttributeInfo> attributes;  // the root group's
  std::vector<DatasetInfo> datasets;      // by name
  std::vector<std::string> others;        // other root objects: "group NAME", ...
  // The leading dimension every dataset of rank >= 1 shares; unset when they differ or there
  // are none.
  std::optional<uint64_t> common_rows;
};

// Reads `path`'s structure (no data); kNotFound when missing, kInvalidArgument when it is not
// HDF5.
train::Result<FileInfo> InspectFile(const std::string& path);

// For people: one block per dataset. For programs: a JSON document (the same fields).
std::string FormatInspectText(const FileInfo& info);
std::string FormatInspectJson(const FileInfo& info);

// "812 B", "30.1 MiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace trainctl::data

#endif  // TRAINCTL_DATA_INSPECT_H_
