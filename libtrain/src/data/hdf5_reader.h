// The HDF5 side of Dataset: checking a file's fields, and reading planned rows of them.
#ifndef TRAIN_DATA_HDF5_READER_H_
#define TRAIN_DATA_HDF5_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/block_cache.h"
#include "data/read_plan.h"
#include "train/dataset.h"

namespace train::internal {

struct FileLayout {
  std::vector<FieldInfo> fields;
  std::vector<std::size_t> stored_sizes;  // bytes per element in the file, per field
  std::vector<std::uint64_t> block_rows;  // rows per cached block, per field
  std::uint64_t rows = 0;                 // the leading dimension every field shares
};

// Opens `path`, checks the fields `options` asks for (all root datasets when it names none),
// and closes the file again.
Result<FileLayout> InspectFile(const std::string& path, const DatasetOptions& options);

// Reads rows `indices` (checked) of every field into a batch, block by block: blocks kept in
// `cache` are copied from memory, the others read from the file (open only meanwhile) and
// kept. FAILED_PRECONDITION when the file no longer matches `layout`.
Result<Batch> ReadRows(const std::string& path, const FileLayout& layout,
                       const std::vector<std::uint64_t>& indices, BlockCache& cache);

}  // namespace train::internal

#endif  // TRAIN_DATA_HDF5_READER_H_
