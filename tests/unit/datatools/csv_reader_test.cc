// Numeric CSV: headers, skipped lines, scikit-learn's two-line shape, and every error a user can
// make, each pointing at its line and column.
#include "csv_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "datatools_test_util.h"

namespace trainctl::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

train::Result<CsvTable> Parse(const std::string& text, int skip_rows = -1) {
  return ParseCsv(text, "f.csv", CsvOptions{skip_rows});
}

std::string ErrorOf(const std::string& text, int skip_rows = -1) {
  auto table = Parse(text, skip_rows);
  EXPECT_FALSE(table.ok());
  if (table.ok()) return "";
  EXPECT_EQ(table.status().code(), train::StatusCode::kInvalidArgument);
  return table.status().message();
}

TEST(CsvReaderTest, ReadsAHeaderAndRows) {
  auto table = Parse("x,y,label\n1,2.5,0\n-3,4e2,1\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->columns, ElementsAre("x", "y", "label"));
  EXPECT_EQ(table->rows, 2u);
  EXPECT_EQ(table->header_line, 1);
  EXPECT_THAT(table->values, ElementsAre(1, 2.5, 0, -3, 400, 1));
  EXPECT_EQ(table->at(1, 1), 400);
}

TEST(CsvReaderTest, ToleratesCrlfBlankLinesSpacesQuotesAndABom) {
  auto table = Parse("\xEF\xBB\xBF\"a, b\" , c\r\n\r\n 1 , \"+2\"\r\n  \r\n3,nan\r\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->columns, ElementsAre("a, b", "c"));
  ASSERT_EQ(table->rows, 2u);
  EXPECT_EQ(table->at(0, 0), 1);
  EXPECT_EQ(table->at(0, 1), 2);
  EXPECT_TRUE(std::isnan(table->at(1, 1)));
}

TEST(CsvReaderTest, SkipsRowsBeforeTheHeader) {
  auto table = Parse("# exported 2024\n# units: cm\nw,h\n1,2\n", 2);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->header_line, 3);
  EXPECT_THAT(table->columns, ElementsAre("w", "h"));
}

TEST(CsvReaderTest, DetectsScikitLearnsRowsAndColumnsLine) {
  // boston_house_prices.csv starts "506,13", then the header.
  auto table = Parse("3,2\nCRIM,ZN,MEDV\n0.1,18,24\n0.2,0,21.6\n0.3,0,34.7\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->header_line, 2);
  EXPECT_THAT(table->columns, ElementsAre("CRIM", "ZN", "MEDV"));
  EXPECT_EQ(table->rows, 3u);
}

TEST(CsvReaderTest, DetectsTheRowsAndColumnsLinePaddedWithEmptyCells) {
  // The file Debian's python3-sklearn ships pads that line to the header's width:
  // "506,13,,,,,,,,,,,,".
  auto table = Parse("2,2,\nA,B,T\n1,2,3\n4,5,6\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->header_line, 2);
  EXPECT_THAT(table->columns, ElementsAre("A", "B", "T"));
  EXPECT_EQ(table->rows, 2u);
}

TEST(CsvReaderTest, ChecksTheRowsScikitLearnsLineDeclares) {
  EXPECT_THAT(ErrorOf("4,2\nA,B,T\n1,2,3\n"),
              HasSubstr("f.csv:1: the first line declares 4 rows but 1 follow the header"));
  // Skipping the line explicitly bypasses the check.
  EXPECT_TRUE(Parse("4,2\nA,B,T\n1,2,3\n", 1).ok());
}

TEST(CsvReaderTest, ATwoNumberFirstRowOfDataIsNotSkipped) {
  auto table = Parse("a,b\n1,2\n3,4\n");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->header_line, 1);
  EXPECT_EQ(table->rows, 2u);
}

TEST(CsvReaderTest, NamesTheLineAndColumnOfANonNumericCell) {
  EXPECT_THAT(ErrorOf("a,b\n1,2\n3, x1\n"),
              StartsWith("f.csv:3:4: column 2 (b): \"x1\" is not a number"));
}

TEST(CsvReaderTest, HintsAtTheSeparator) {
  EXPECT_THAT(ErrorOf("a;b\n1;2\n"), HasSubstr("(cells are separated by commas, not ';')"));
}

TEST(CsvReaderTest, NamesAnEmptyCell) {
  EXPECT_THAT(ErrorOf("a,b,c\n1,,3\n"), StartsWith("f.csv:2:3: column 2 (b) is empty"));
}

TEST(CsvReaderTest, NamesARaggedRow) {
  EXPECT_THAT(ErrorOf("a,b\n1,2\n3\n4,5\n"),
              StartsWith("f.csv:3: 1 cells, but the header (line 1) has 2 columns"));
  EXPECT_THAT(ErrorOf("a,b\n1,2,3\n"), StartsWith("f.csv:2: 3 cells"));
}

TEST(CsvReaderTest, RejectsAnEmptyFile) {
  EXPECT_THAT(ErrorOf(""), StartsWith("f.csv: empty"));
  EXPECT_THAT(ErrorOf("\n \n"), StartsWith("f.csv: empty"));
}

TEST(CsvReaderTest, RejectsAHeaderWithoutRows) {
  EXPECT_THAT(ErrorOf("a,b\n"), HasSubstr("a header but no data rows"));
}

TEST(CsvReaderTest, RejectsAFileWithoutAHeader) {
  EXPECT_THAT(ErrorOf("1,2\n3,4\n"), HasSubstr("expected a header row of column names"));
}

TEST(CsvReaderTest, RejectsDuplicateAndEmptyColumnNames) {
  EXPECT_THAT(ErrorOf("a,b,a\n1,2,3\n"), StartsWith("f.csv:1:5: column name \"a\" appears twice"));
  EXPECT_THAT(ErrorOf("a,,c\n1,2,3\n"), StartsWith("f.csv:1:3: column 2 has no name"));
}

TEST(CsvReaderTest, RejectsAnUnterminatedQuote) {
  EXPECT_THAT(ErrorOf("a,b\n1,\"2\n"), StartsWith("f.csv:2:3: unterminated quote"));
}

TEST(CsvReaderTest, SkipRowsPastTheEndSaysSo) {
  EXPECT_THAT(ErrorOf("a\n1\n", 5), HasSubstr("--skip-rows 5 skips them all"));
}

TEST(CsvReaderFileTest, ReadsGzipAndNamesAMissingFile) {
  testing::ScratchDir dir;
  const std::string path = dir / "t.csv.gz";
  const std::string text = "a,b\n1,2\n";
  testing::WriteBytes(path, std::vector<uint8_t>(text.begin(), text.end()), true);
  auto table = ReadCsvFile(path, {});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->values, ElementsAre(1, 2));

  auto missing = ReadCsvFile(dir / "nope.csv", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), train::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.csv: no such file"));
}

}  // namespace
}  // namespace trainctl::data
