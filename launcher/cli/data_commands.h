// trainctl data import idx|csv and trainctl data inspect: their flags, and the code behind them.
// Each Run* returns the exit code: 0 success, 1 failure (a bad input file, I/O), 2 usage.
#ifndef TRAINCTL_CLI_DATA_COMMANDS_H_
#define TRAINCTL_CLI_DATA_COMMANDS_H_

#include <cstdint>
#include <string>

namespace trainctl::cli {

inline constexpr int kDefaultDataCompression = 4;  // deflate level, as h5py's default

struct ImportIdxFlags {
  std::string images;                         // --images FILE (IDX, gzip'd or not)
  std::string labels;                         // --labels FILE
  std::string output;                         // -o OUT.h5
  uint64_t chunk_rows = 0;                    // --chunk-rows; 0: what fits in 32 KiB
  int compression = kDefaultDataCompression;  // --compression 0-9
  std::string images_field = "images";        // --images-field
  std::string labels_field = "labels";        // --labels-field
  bool force = false;                         // --force: replace OUT.h5
};

struct ImportCsvFlags {
  std::string input;   // FILE
  std::string output;  // -o OUT.h5
  int skip_rows = -1;  // --skip-rows; -1 detects a "ROWS,COLUMNS" first line
  std::string target;  // --target COLUMN
  uint64_t chunk_rows = 0;
  int compression = kDefaultDataCompression;
  bool force = false;
};

struct InspectFlags {
  std::string file;
  bool json = false;  // --json
};

int RunDataImportIdx(const ImportIdxFlags& flags);
int RunDataImportCsv(const ImportCsvFlags& flags);
int RunDataInspect(const InspectFlags& flags);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_DATA_COMMANDS_H_
