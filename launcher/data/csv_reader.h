// Reads numeric CSV files: a header row of column names, then rows of numbers.
//
// Cells are separated by commas and may be quoted ("a, b" with "" for a quote); a cell cannot
// span lines. Blank lines are skipped. Every data cell must parse as a number (also nan, inf).
#ifndef TRAINCTL_DATA_CSV_READER_H_
#define TRAINCTL_DATA_CSV_READER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace trainctl::data {

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

// Parses `text`; `source` names it in errors, which read "SOURCE:LINE:COLUMN: ..." (1-based
// line and character column) and say what to do: kInvalidArgument for a non-numeric or empty
// cell, a row with the wrong number of cells, a missing header or no data rows.
train::Result<CsvTable> ParseCsv(std::string_view text, std::string_view source,
                                 const CsvOptions& options);

// Reads a file, gzip'd or plain, and parses it; kNotFound when it is missing.
train::Result<CsvTable> ReadCsvFile(const std::string& path, const CsvOptions& options);

}  // namespace trainctl::data

#endif  // TRAINCTL_DATA_CSV_READER_H_
