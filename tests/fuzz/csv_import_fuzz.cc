// Fuzz target: bytes as a CSV file, gzip'd or not (the bytes decide), through the real import:
// parsed from memory (ParseCsv), then imported from a file into a temporary HDF5 file
// (ImportCsv, the streaming reader and writer `trainctl data import csv` uses), once with
// every column a feature and, when the first column has a name, once with it as the target.
// No input may crash, throw, hang, or hold more than a line and a batch of rows in memory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "csv_reader.h"
#include "data_fuzz_dir.h"
#include "importers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const trainctl::fuzz::FuzzDir dir("csv-import-fuzz");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto table = trainctl::data::ParseCsv(text, "fuzz.csv", {});

  trainctl::data::CsvImportOptions options;
  options.input_path = dir.Write("input.csv", data, size);
  options.output_path = dir.File("out.h5");
  options.force = true;
  options.compression = 1;
  (void)trainctl::data::ImportCsv(options);
  if (table.ok() && !table->columns.empty()) {
    options.target = table->columns[0];
    (void)trainctl::data::ImportCsv(options);
  }
  return 0;
}
