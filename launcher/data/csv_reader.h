// Reads numeric CSV files: a header row of column names, then rows of numbers.
//
// Cells are separated by commas and may be quoted ("a, b" with "" for a quote); a cell cannot
// span lines. Blank lines are skipped. Every data cell must parse as a number (also nan, inf).
// Files are read as a stream, a batch of rows at a time: memory stays bounded whatever the file
// (or a gzip'd file's decompressed) size.
#ifndef TRAINCTL_DATA_CSV_READER_H_
#define TRAINCTL_DATA_CSV_READER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace trainctl::data {

// The longest line read; a longer one (a gzip bomb of one line, a binary file) is refused.
inline constexpr uint64_t kMaxCsvLineBytes = uint64_t{8} << 20;

struct CsvOptions {
  // Lines before the header. -1 detects scikit-learn's shape: a first line of two integers
  // ("506,13": rows, features) before a header of names; that line is then skipped, and the
  // number of rows it declares is checked.
  int skip_rows = -1;
};

struct CsvTable {
  std::vector<std::string> columns;
  std::vector<double> values;  // row-major: rows x columns.size()
  uint64_t rows = 0;
  int header_line = 0;  // 1-based line number of the header

  double at(uint64_t row, size_t column) const { return values[row * columns.size() + column]; }
};

class CsvLineSource;  // where lines come from: a file (gzip'd or plain) or text in memory

// Errors read "SOURCE:LINE:COLUMN: ..." (1-based line and character column) and say what to do:
// kInvalidArgument for a non-numeric, out-of-range or empty cell, a row with the wrong number
// of cells, a missing header, no data rows, a line over kMaxCsvLineBytes or binary data.
class CsvReader {
 public:
  // Opens a file, gzip'd or plain (a pipe too), and reads up to its header; kNotFound when it
  // is missing.
  static train::Result<std::unique_ptr<CsvReader>> Open(const std::string& path,
                                                        const CsvOptions& options);
  // Reads `text`, named `source` in errors, up to its header. `text` must outlive the reader.
  static train::Result<std::unique_ptr<CsvReader>> FromText(std::string_view text,
                                                            std::string_view source,
                                                            const CsvOptions& options);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  const std::vector<std::string>& columns() const { return columns_; }
  int header_line() const { return header_line_; }
  uint64_t rows_read() const { return rows_; }

  // Appends up to `max_rows` rows to `values` (row-major) and returns how many. 0 means the
  // end: the file then held at least one row, and as many as a scikit-learn first line
  // declares (errors otherwise).
  train::Result<uint64_t> ReadRows(uint64_t max_rows, std::vector<double>* values);

 private:
  CsvReader(std::unique_ptr<CsvLineSource> lines, std::string source);
  train::Status ReadHeader(const CsvOptions& options);

  std::unique_ptr<CsvLineSource> lines_;
  std::string source_;
  std::vector<std::string> columns_;
  int header_line_ = 0;
  uint64_t rows_ = 0;
  std::optional<uint64_t> declared_rows_;  // from scikit-learn's first line
  int declared_line_ = 0;
  std::string pending_;  // a row read ahead while looking for the header
  uint64_t pending_number_ = 0;
  bool has_pending_ = false;
  bool done_ = false;
};

// The whole table at once, for small inputs and tests.
train::Result<CsvTable> ParseCsv(std::string_view text, std::string_view source,
                                 const CsvOptions& options);
train::Result<CsvTable> ReadCsvFile(const std::string& path, const CsvOptions& options);

}  // namespace trainctl::data

#endif  // TRAINCTL_DATA_CSV_READER_H_
