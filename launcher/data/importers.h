// Imports of IDX and CSV files into HDF5: one dataset per field, rows along the leading
// dimension, chunked along the rows and deflate-compressed, written atomically.
//
// IDX import: images keep the IDX element type and shape ([N, 28, 28] uint8 for MNIST);
// labels become int64 [N] (float labels: float64), the type training code indexes with.
// CSV import: `features` float64 [N, C] with a `columns` attribute; with a target column,
// that column goes to `target` float64 [N] instead.
// Every dataset records `source` (the input's absolute path) and `source_format`.
#ifndef TRAINCTL_DATA_IMPORTERS_H_
#define TRAINCTL_DATA_IMPORTERS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace trainctl::data {

inline constexpr int kDefaultCompression = 4;

// Called after each chunk: what is being written ("images"), rows done, rows in all (0 when not
// known in advance: a CSV is streamed). Returning false cancels the import (kCancelled; nothing
// is left behind), e.g. on Ctrl-C.
using ProgressFn = std::function<bool(std::string_view what, uint64_t done, uint64_t total)>;

struct IdxImportOptions {
  std::string images_path;
  std::string labels_path;
  std::string output_path;
  std::string images_field = "images";
  std::string labels_field = "labels";
  uint64_t chunk_rows = 0;  // 0: per field, what fits in 32 KiB (see DefaultChunkRows)
  int compression = kDefaultCompression;  // 0 (none) to 9
  bool force = false;                     // replace an existing output file
};

struct CsvImportOptions {
  std::string input_path;
  std::string output_path;
  int skip_rows = -1;  // -1: detect, see CsvOptions
  std::string target;  // a column to store as `target`; "" keeps every column in `features`
  uint64_t chunk_rows = 0;
  int compression = kDefaultCompression;
  bool force = false;
};

struct ImportedDataset {
  std::string name;
  std::string dtype;  // "uint8", "int64", ...
  std::vector<uint64_t> shape;
};

struct ImportSummary {
  std::string output_path;
  uint64_t rows = 0;
  std::vector<ImportedDataset> datasets;
  uint64_t file_bytes = 0;
};

// Checks the options a user can get wrong before any file is read (field names, levels);
// kInvalidArgument naming the flag.
train::Status ValidateIdxImportOptions(const IdxImportOptions& options);
train::Status ValidateCsvImportOptions(const CsvImportOptions& options);

// Imports; on any failure no output file (and no temporary file) is left behind. Memory stays
// bounded whatever the inputs claim or hold: IDX rows and CSV rows are streamed in batches of
// about 1 MiB; running out of memory anyway is kResourceExhausted, not an exception.
train::Result<ImportSummary> ImportIdx(const IdxImportOptions& options,
                                       const ProgressFn& progress = nullptr);
train::Result<ImportSummary> ImportCsv(const CsvImportOptions& options,
                                       const ProgressFn& progress = nullptr);

}  // namespace trainctl::data

#endif  // TRAINCTL_DATA_IMPORTERS_H_
