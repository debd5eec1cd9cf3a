#include "csv_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>

namespace trainctl::data {

// Physical lines, without their end of line, from a gzip'd or plain file or from memory. A line
// longer than kMaxCsvLineBytes is an error: nothing is held beyond one line and one buffer.
class CsvLineSource {
 public:
  CsvLineSource(std::string source, gzFile file) : source_(std::move(source)), file_(file) {}
  CsvLineSource(std::string source, std::string_view text)
      : source_(std::move(source)), text_(text) {}
  ~CsvLineSource() {
    if (file_ != nullptr) gzclose(file_);
  }
  CsvLineSource(const CsvLineSource&) = delete;
  CsvLineSource& operator=(const CsvLineSource&) = delete;

  // The next line into `line`; false at the end.
  train::Result<bool> Next(std::string* line) {
    line->clear();
    const bool got = file_ != nullptr ? NextFromFile(line) : NextFromText(line);
    if (!error_.ok()) return error_;
    if (!got) return false;
    ++number_;
    if (number_ == 1 && line->compare(0, 3, "\xEF\xBB\xBF") == 0) line->erase(0, 3);  // BOM
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (line->find('\0') != std::string::npos) {
      return train::InvalidArgumentError(source_ + ":" + std::to_string(number_) +
                                         ": holds binary data (a NUL byte), not CSV text");
    }
    return true;
  }

  uint64_t number() const { return number_; }  // of the last line returned, 1-based

 private:
  bool NextFromText(std::string* line) {
    if (text_.empty()) return false;
    const size_t end = std::min(text_.find('\n'), text_.size());
    if (end > kMaxCsvLineBytes) return TooLong();
    line->assign(text_.substr(0, end));
    text_.remove_prefix(std::min(end + 1, text_.size()));
    return true;
  }

  bool NextFromFile(std::string* line) {
    bool any = false;
    while (true) {
      if (pos_ == buffer_.size() && !Fill()) return any && error_.ok();
      any = true;
      const char* begin = buffer_.data() + pos_;
      const char* end = buffer_.data() + buffer_.size();
      const char* newline = std::find(begin, end, '\n');
      line->append(begin, newline);
      pos_ += static_cast<size_t>(newline - begin);
      if (line->size() > kMaxCsvLineBytes) return TooLong();
      if (newline != end) {
        ++pos_;
        return true;
      }
    }
  }

  // Reads the next piece of the file; false at its end or on an error (error_).
  bool Fill() {
    buffer_.resize(1 << 16);
    const int n = gzread(file_, buffer_.data(), static_cast<unsigned>(buffer_.size()));
    if (n < 0) {
      int code = Z_OK;
      const char* message = gzerror(file_, &code);
      error_ = train::DataLossError(source_ + ": " + (message ? message : "read error") +
                                    "; the file is corrupt or unreadable");
    }
    buffer_.resize(n > 0 ? static_cast<size_t>(n) : 0);
    pos_ = 0;
    return n > 0;
  }

  bool TooLong() {
    error_ = train::InvalidArgumentError(
        source_ + ":" + std::to_string(number_ + 1) + ": a line longer than " +
        std::to_string(kMaxCsvLineBytes >> 20) +
        " MiB; this is not a CSV file of numbers (or it uses another line separator)");
    return false;
  }

  std::string source_;
  gzFile file_ = nullptr;
  std::string_view text_;
  std::string buffer_;
  size_t pos_ = 0;
  uint64_t number_ = 0;
  train::Status error_;
};

namespace {

struct Cell {
  std::string text;   // trimmed, unquoted
  size_t column = 0;  // 1-based character column where the cell starts
};

// One physical line of the file.
struct Line {
  std::string_view text;
  uint64_t number = 0;  // 1-based
};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::string Where(std::string_view source, uint64_t line, size_t column = 0) {
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

enum class NumberStatus { kOk, kNotANumber, kOutOfRange };
struct Number {
  NumberStatus status = NumberStatus::kNotANumber;
  double value = 0;
};

Number ParseNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return {};
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (end != text.data() + text.size()) return {};
  if (error == std::errc::result_out_of_range) return {NumberStatus::kOutOfRange, 0};
  if (error != std::errc()) return {};
  return {NumberStatus::kOk, value};
}

// Cells are split at commas only; say so when a cell suggests another separator.
std::string SeparatorHint(std::string_view cell) {
  if (cell.find(';') != std::string_view::npos) return " (cells are separated by commas, not ';')";
  if (cell.find('\t') != std::string_view::npos)
    return " (cells are separated by commas, not tabs)";
  return "";
}

bool AllNumbers(const std::vector<Cell>& cells) {
  for (const Cell& cell : cells) {
    if (ParseNumber(cell.text).status != NumberStatus::kOk) return false;
  }
  return true;
}

// Reads the next line that is not blank; false at the end.
train::Result<bool> NextContent(CsvLineSource& lines, std::string* text) {
  while (true) {
    TRAIN_ASSIGN_OR_RETURN(bool got, lines.Next(text));
    if (!got) return false;
    if (!Trim(*text).empty()) return true;
  }
}

bool IsNonNegativeInteger(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

CsvReader::CsvReader(std::unique_ptr<CsvLineSource> lines, std::string source)
    : lines_(std::move(lines)), source_(std::move(source)) {}

CsvReader::~CsvReader() = default;

train::Result<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path,
                                                          const CsvOptions& options) {
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
  std::unique_ptr<CsvReader> reader(
      new CsvReader(std::make_unique<CsvLineSource>(path, file), path));
  TRAIN_RETURN_IF_ERROR(reader->ReadHeader(options));
  return reader;
}

train::Result<std::unique_ptr<CsvReader>> CsvReader::FromText(std::string_view text,
                                                              std::string_view source,
                                                              const CsvOptions& options) {
  const std::string name(source);
  std::unique_ptr<CsvReader> reader(
      new CsvReader(std::make_unique<CsvLineSource>(name, text), name));
  TRAIN_RETURN_IF_ERROR(reader->ReadHeader(options));
  return reader;
}

train::Status CsvReader::ReadHeader(const CsvOptions& options) {
  const std::string& name = source_;
  std::string text, next;
  TRAIN_ASSIGN_OR_RETURN(bool got, NextContent(*lines_, &text));
  if (!got) {
    return train::InvalidArgumentError(
        name + ": empty; a numeric CSV needs a header row of column names, then rows of numbers");
  }
  Line header{text, lines_->number()};

  // Which line is the header: after --skip-rows lines, or after sklearn's "ROWS,COLUMNS" line.
  if (options.skip_rows >= 0) {
    while (header.number <= static_cast<uint64_t>(options.skip_rows)) {
      TRAIN_ASSIGN_OR_RETURN(got, NextContent(*lines_, &text));
      if (!got) {
        return train::InvalidArgumentError(
            name + ": has " + std::to_string(lines_->number()) + " lines and --skip-rows " +
            std::to_string(options.skip_rows) + " skips them all; lower it to reach the header");
      }
      header = Line{text, lines_->number()};
    }
  } else {
    TRAIN_ASSIGN_OR_RETURN(got, NextContent(*lines_, &next));
    if (got) {
      const Line second_line{next, lines_->number()};
      TRAIN_ASSIGN_OR_RETURN(auto first, SplitCells(header, name));
      TRAIN_ASSIGN_OR_RETURN(auto second, SplitCells(second_line, name));
      // Some of scikit-learn's files pad that line with empty cells to the header's width.
      bool padding_only = true;
      for (std::size_t c = 2; c < first.size(); ++c) padding_only &= first[c].text.empty();
      if (first.size() >= 2 && padding_only && IsNonNegativeInteger(first[0].text) &&
          IsNonNegativeInteger(first[1].text) && !AllNumbers(second)) {
        const std::string& digits = first[0].text;
        uint64_t declared = 0;
        const auto [end, error] =
            std::from_chars(digits.data(), digits.data() + digits.size(), declared);
        if (error != std::errc() || end != digits.data() + digits.size()) {
          return train::InvalidArgumentError(
              Where(name, header.number, first[0].column) + "the first line declares \"" + digits +
              "\" rows, more than " + std::to_string(std::numeric_limits<uint64_t>::max()) +
              "; fix the line, or pass --skip-rows 1 to skip it unchecked");
        }
        declared_rows_ = declared;
        declared_line_ = static_cast<int>(std::min<uint64_t>(header.number, INT32_MAX));
        text.swap(next);
        header = Line{text, second_line.number};
      } else {
        pending_ = std::move(next);  // the first row of data
        pending_number_ = second_line.number;
        has_pending_ = true;
      }
    }
  }
  header.text = text;

  TRAIN_ASSIGN_OR_RETURN(std::vector<Cell> cells, SplitCells(header, name));
  if (header.number > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    return train::InvalidArgumentError(Where(name, header.number) +
                                       "the header is further than any CSV file of numbers goes");
  }
  header_line_ = static_cast<int>(header.number);
  if (AllNumbers(cells)) {
    return train::InvalidArgumentError(
        Where(name, header.number) +
        "expected a header row of column names, found numbers; add a header line, or pass "
        "--skip-rows with the number of lines before it");
  }
  for (const Cell& cell : cells) {
    if (cell.text.empty()) {
      return train::InvalidArgumentError(Where(name, header.number, cell.column) + "column " +
                                         std::to_string(columns_.size() + 1) +
                                         " has no name in the header; name it");
    }
    if (std::find(columns_.begin(), columns_.end(), cell.text) != columns_.end()) {
      return train::InvalidArgumentError(Where(name, header.number, cell.column) +
                                         "column name \"" + cell.text +
                                         "\" appears twice in the header; rename one");
    }
    columns_.push_back(cell.text);
  }
  return train::Status::Ok();
}

train::Result<uint64_t> CsvReader::ReadRows(uint64_t max_rows, std::vector<double>* values) {
  const std::string& name = source_;
  const size_t width = columns_.size();
  std::string text;
  uint64_t count = 0;
  while (count < max_rows && !done_) {
    uint64_t number = 0;
    if (has_pending_) {
      text.swap(pending_);
      number = pending_number_;
      has_pending_ = false;
    } else {
      TRAIN_ASSIGN_OR_RETURN(bool got, NextContent(*lines_, &text));
      if (!got) {
        done_ = true;
        break;
      }
      number = lines_->number();
    }
    TRAIN_ASSIGN_OR_RETURN(std::vector<Cell> cells, SplitCells(Line{text, number}, name));
    if (cells.size() != width) {
      return train::InvalidArgumentError(
          Where(name, number) + std::to_string(cells.size()) + " cells, but the header (line " +
          std::to_string(header_line_) + ") has " + std::to_string(width) +
          " columns; make every row as wide as the header");
    }
    for (size_t c = 0; c < width; ++c) {
      const Cell& cell = cells[c];
      // Built for errors only: this loop runs for every cell of the file.
      const auto column = [&] {
        return "column " + std::to_string(c + 1) + " (" + columns_[c] + ")";
      };
      if (cell.text.empty()) {
        return train::InvalidArgumentError(Where(name, number, cell.column) + column() +
                                           " is empty; every cell must be a number: fill it in "
                                           "or drop the row");
      }
      const Number value = ParseNumber(cell.text);
      if (value.status == NumberStatus::kOutOfRange) {
        return train::InvalidArgumentError(Where(name, number, cell.column) + column() + ": \"" +
                                           cell.text +
                                           "\" is out of the range of a float64 (about 1.8e308); "
                                           "fix the cell or drop the row");
      }
      if (value.status != NumberStatus::kOk) {
        return train::InvalidArgumentError(
            Where(name, number, cell.column) + column() + ": \"" + cell.text +
            "\" is not a number; fix the cell or drop the row" + SeparatorHint(cell.text));
      }
      values->push_back(value.value);
    }
    ++rows_;
    ++count;
  }
  if (count > 0 || !done_) return count;
  if (rows_ == 0) {
    return train::InvalidArgumentError(Where(name, static_cast<uint64_t>(header_line_)) +
                                       "a header but no data rows after it");
  }
  if (declared_rows_ && *declared_rows_ != rows_) {
    return train::InvalidArgumentError(
        Where(name, static_cast<uint64_t>(declared_line_)) + "the first line declares " +
        std::to_string(*declared_rows_) + " rows but " + std::to_string(rows_) +
        " follow the header; fix the file, or pass --skip-rows 1 to skip the line unchecked");
  }
  return uint64_t{0};
}

namespace {

train::Result<CsvTable> ReadAll(CsvReader& reader) {
  CsvTable table;
  table.columns = reader.columns();
  table.header_line = reader.header_line();
  while (true) {
    TRAIN_ASSIGN_OR_RETURN(uint64_t n, reader.ReadRows(1024, &table.values));
    if (n == 0) break;
  }
  table.rows = reader.rows_read();
  return table;
}

}  // namespace

train::Result<CsvTable> ParseCsv(std::string_view text, std::string_view source,
                                 const CsvOptions& options) {
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader,
                         CsvReader::FromText(text, source, options));
  return ReadAll(*reader);
}

train::Result<CsvTable> ReadCsvFile(const std::string& path, const CsvOptions& options) {
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader, CsvReader::Open(path, options));
  return ReadAll(*reader);
}

}  // namespace trainctl::data
