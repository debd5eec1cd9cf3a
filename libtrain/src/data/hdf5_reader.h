// The HDF5 side of Dataset: checking a file's fields, and reading planned rows of them.
#ifndef TRAIN_DATA_HDF5_READER_H_
#define TRAIN_DATA_HDF5_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/read_plan.h"
#include "train/dataset.h"

namespace train::internal {

struct FileLayout {
  std::vector<FieldInfo> fields;
  std::vector<std::size_t> stored_sizes;  // bytes per element in the file, per field
  std::uint64_t rows = 0;                 // the leading dimension every field shares
};

// Opens `path`, checks the fields `options` asks for (all root datasets when it names none),
// and closes the file again.
Result<FileLayout> InspectFile(const std::string& path, const DatasetOptions& options);

// Reads the planned rows of every field into a batch of plan.slot.size() rows. The file is
// open only during the call; FAILED_PRECONDITION when it no longer matches `layout`.
Result<Batch> ReadRows(const std::string& path, const FileLayout& layout, const ReadPlan& plan,
                       std::size_t chunk_cache_bytes);

}  // namespace train::internal

#endif  // TRAIN_DATA_HDF5_READER_H_
