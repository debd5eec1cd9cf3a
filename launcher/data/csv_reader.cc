#include "csv_reader.h"

#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>

namespace trainctl::data {
namespace {

struct Cell {
  std::string text;   // trimmed, unquoted
  size_t column = 0;  // 1-based character column where the cell starts
};

// One physical line of the file.
struct Line {
  std::string_view text;
  int number = 0;  // 1-based
};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<Line> SplitLines(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  std::vector<Line> lines;
  int number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back({line, ++number});
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::string Where(std::string_view source, int line, size_t column = 0) {
  std::string out(source);
  out += ":" + std::to_string(line);
  if (column > 0) out += ":" + std::to_string(column);
  return out + ": ";
}

train::Result<std::vector<Cell>> SplitCells(const Line& line, std::string_view source) {
  std::vector<Cell> cells;
  const std::string_view s = line.text;
  size_t i = 0;
  while (true) {
    Cell cell;
    while (i < s.size() && IsBlank(s[i])) ++i;
    cell.column = i + 1;
    if (i < s.size() && s[i] == '"') {
      for (++i;; ++i) {
        if (i >= s.size()) {
          return train::InvalidArgumentError(
              Where(source, line.number, cell.column) +
              "unterminated quote; close it (a cell cannot span lines)");
        }
        if (s[i] != '"') {
          cell.text += s[i];
        } else if (i + 1 < s.size() && s[i + 1] == '"') {
          cell.text += '"';
          ++i;
        } else {
          ++i;
          break;
        }
      }
      while (i < s.size() && IsBlank(s[i])) ++i;
      if (i < s.size() && s[i] != ',') {
        return train::InvalidArgumentError(Where(source, line.number, i + 1) +
                                           "text after a quoted cell; put it inside the quotes");
      }
    } else {
      const size_t end = std::min(s.find(',', i), s.size());
      cell.text = Trim(s.substr(i, end - i));
      i = end;
    }
    cells.push_back(std::move(cell));
    if (i >= s.size()) break;
    ++i;  // the comma
  }
  return cells;
}

std::optional<double> ParseNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// Cells are split at commas only; say so when a cell suggests another separator.
std::string SeparatorHint(std::string_view cell) {
  if (cell.find(';') != std::string_view::npos) return " (cells are separated by commas, not ';')";
  if (cell.find('\t') != std::string_view::npos)
    return " (cells are separated by commas, not tabs)";
  return "";
}

bool IsNonNegativeInteger(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

bool AllNumbers(const std::vector<Cell>& cells) {
  for (const Cell& cell : cells) {
    if (!ParseNumber(cell.text)) return false;
  }
  return true;
}

}  // namespace

train::Result<CsvTable> ParseCsv(std::string_view text, std::string_view source,
                                 const CsvOptions& options) {
  const std::string name(source);
  std::vector<Line> lines = SplitLines(text);
  std::vector<const Line*> content;  // the non-blank lines
  for (const Line& line : lines) {
    if (!Trim(line.text).empty()) content.push_back(&line);
  }
  if (content.empty()) {
    return train::InvalidArgumentError(
        name + ": empty; a numeric CSV needs a header row of column names, then rows of numbers");
  }

  // Which line is the header: after --skip-rows lines, or after sklearn's "ROWS,COLUMNS" line.
  size_t header_index = 0;
  std::optional<uint64_t> declared_rows;
  if (options.skip_rows >= 0) {
    while (header_index < content.size() && content[header_index]->number <= options.skip_rows) {
      ++header_index;
    }
    if (header_index == content.size()) {
      return train::InvalidArgumentError(
          name + ": has " + std::to_string(lines.size()) + " lines and --skip-rows " +
          std::to_string(options.skip_rows) + " skips them all; lower it to reach the header");
    }
  } else if (content.size() >= 2) {
    TRAIN_ASSIGN_OR_RETURN(auto first, SplitCells(*content[0], name));
    TRAIN_ASSIGN_OR_RETURN(auto second, SplitCells(*content[1], name));
    // Some of scikit-learn's files pad that line with empty cells to the header's width.
    bool padding_only = true;
    for (std::size_t c = 2; c < first.size(); ++c) padding_only &= first[c].text.empty();
    if (first.size() >= 2 && padding_only && IsNonNegativeInteger(first[0].text) &&
        IsNonNegativeInteger(first[1].text) && !AllNumbers(second)) {
      header_index = 1;
      declared_rows = std::stoull(first[0].text);
    }
  }

  const Line& header_line = *content[header_index];
  TRAIN_ASSIGN_OR_RETURN(std::vector<Cell> header, SplitCells(header_line, name));
  CsvTable table;
  table.header_line = header_line.number;
  if (AllNumbers(header)) {
    return train::InvalidArgumentError(
        Where(name, header_line.number) +
        "expected a header row of column names, found numbers; add a header line, or pass "
        "--skip-rows with the number of lines before it");
  }
  for (const Cell& cell : header) {
    if (cell.text.empty()) {
      return train::InvalidArgumentError(Where(name, header_line.number, cell.column) + "column " +
                                         std::to_string(table.columns.size() + 1) +
                                         " has no name in the header; name it");
    }
    for (const std::string& seen : table.columns) {
      if (seen == cell.text) {
        return train::InvalidArgumentError(Where(name, header_line.number, cell.column) +
                                           "column name \"" + cell.text +
                                           "\" appears twice in the header; rename one");
      }
    }
    table.columns.push_back(cell.text);
  }

  const size_t width = table.columns.size();
  for (size_t i = header_index + 1; i < content.size(); ++i) {
    const Line& line = *content[i];
    TRAIN_ASSIGN_OR_RETURN(std::vector<Cell> cells, SplitCells(line, name));
    if (cells.size() != width) {
      return train::InvalidArgumentError(
          Where(name, line.number) + std::to_string(cells.size()) +
          " cells, but the header (line " + std::to_string(header_line.number) + ") has " +
          std::to_string(width) + " columns; make every row as wide as the header");
    }
    for (size_t c = 0; c < width; ++c) {
      const std::string column = "column " + std::to_string(c + 1) + " (" + table.columns[c] + ")";
      if (cells[c].text.empty()) {
        return train::InvalidArgumentError(Where(name, line.number, cells[c].column) + column +
                                           " is empty; every cell must be a number: fill it in "
                                           "or drop the row");
      }
      const std::optional<double> value = ParseNumber(cells[c].text);
      if (!value) {
        return train::InvalidArgumentError(
            Where(name, line.number, cells[c].column) + column + ": \"" + cells[c].text +
            "\" is not a number; fix the cell or drop the row" + SeparatorHint(cells[c].text));
      }
      table.values.push_back(*value);
    }
    ++table.rows;
  }
  if (table.rows == 0) {
    return train::InvalidArgumentError(Where(name, header_line.number) +
                                       "a header but no data rows after it");
  }
  if (declared_rows && *declared_rows != table.rows) {
    return train::InvalidArgumentError(
        Where(name, content[0]->number) + "the first line declares " +
        std::to_string(*declared_rows) + " rows but " + std::to_string(table.rows) +
        " follow the header; fix the file, or pass --skip-rows 1 to skip the line unchecked");
  }
  return table;
}

train::Result<CsvTable> ReadCsvFile(const std::string& path, const CsvOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return train::NotFoundError(path + ": no such file; check the path");
  }
  if (std::filesystem::is_directory(path, ec)) {
    return train::InvalidArgumentError(path + ": is a directory; give a CSV file");
  }
  gzFile file = gzopen(path.c_str(), "rb");  // gzread passes a plain file through unchanged
  if (file == nullptr) {
    return train::UnavailableError(path + ": cannot open: " + std::strerror(errno));
  }
  std::string text;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0)
    text.append(buffer, static_cast<size_t>(n));
  std::string error;
  if (n < 0) {
    int code = Z_OK;
    error = gzerror(file, &code);
  }
  gzclose(file);
  if (n < 0) return train::DataLossError(path + ": " + error + "; the file is corrupt");
  if (text.find('\0') != std::string::npos) {
    return train::InvalidArgumentError(path + ": holds binary data, not CSV text");
  }
  return ParseCsv(text, path, options);
}

}  // namespace trainctl::data
