#include "data/hdf5_reader.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "data/hdf5_types.h"
#include "train/internal/half_float.h"
#include "train/internal/hdf5_util.h"

namespace train::internal {
namespace {

namespace fs = std::filesystem;

constexpr char kChangedAdvice[] = "The file changed since the Dataset was opened; open it again";

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "(none)" : out;
}

std::string ShapeString(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::uint64_t Product(const std::vector<std::uint64_t>& dims, std::size_t from) {
  std::uint64_t n = 1;
  for (std::size_t i = from; i < dims.size(); ++i) n *= dims[i];
  return n;
}

// Opens `path` read-only, telling apart a missing file, one that is not HDF5, and a damaged one.
Result<Hid> OpenFile(const std::string& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error && error != std::errc::no_such_file_or_directory) {
    return UnavailableError("cannot look at dataset file " + path + ": " + error.message());
  }
  if (!fs::exists(status)) {
    std::string where;
    if (fs::path(path).is_relative())
      where = " (relative to " + fs::current_path(error).string() + ")";
    return NotFoundError("dataset file " + path + " does not exist" + where + "; check the path");
  }
  if (fs::is_directory(status)) {
    return InvalidArgumentError(path + " is a directory; give the path of an HDF5 file");
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return PermissionDeniedError("cannot read dataset file " + path + ": permission denied");
  }
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // Lock the file when the filesystem supports it; some NFS and Lustre mounts do not, and HDF5
  // would refuse to open the file there.
  if (!fapl.valid() || H5Pset_file_locking(fapl.get(), true, true) < 0) {
    return Hdf5Error(StatusCode::kInternal, "H5Pset_file_locking", path, "", "");
  }
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (file.valid()) return file;
  const std::string detail = TakeHdf5ErrorStack();
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  if (is_hdf5 == 0) {
    return InvalidArgumentError(path +
                                " is not an HDF5 file (no HDF5 signature in it); give the path of "
                                "an HDF5 file, e.g. one written with h5py or the HDF5 C API");
  }
  if (is_hdf5 > 0) {
    return DataLossError(path + " is an HDF5 file that cannot be opened: " + detail +
                         ". It is truncated or corrupt: write or copy it again");
  }
  return UnavailableError("cannot open dataset file " + path + ": " + detail);
}

herr_t CollectDataset(hid_t group, const char* name, const H5L_info_t* /*info*/, void* data) {
  Hid object(H5Oopen(group, name, H5P_DEFAULT), H5Oclose);
  if (object.valid() && H5Iget_type(object.get()) == H5I_DATASET) {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
  }
  H5Eclear2(H5E_DEFAULT);  // a dangling link is not a field; its error is not ours to report
  return 0;
}

std::vector<std::string> RootDatasets(hid_t file) {
  std::vector<std::string> names;
  H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, nullptr, CollectDataset, &names);
  H5Eclear2(H5E_DEFAULT);
  return names;
}

// Whether `name` (a path such as "images" or "train/images") leads to a dataset in `file`.
Status CheckIsDataset(hid_t file, const std::string& path, const std::string& name) {
  bool exists = !name.empty();
  for (std::size_t slash = 0; exists && slash != std::string::npos;) {
    slash = name.find('/', slash + 1);
    exists = H5Lexists(file, name.substr(0, slash).c_str(), H5P_DEFAULT) > 0;
  }
  H5Eclear2(H5E_DEFAULT);
  if (!exists) {
    return NotFoundError(path + " has no field '" + name + "'; its fields are: " +
                         JoinNames(RootDatasets(file)) + " (set DatasetOptions::fields to those)");
  }
  Hid object(H5Oopen(file, name.c_str(), H5P_DEFAULT), H5Oclose);
  if (!object.valid()) return Hdf5Error(StatusCode::kDataLoss, "H5Oopen", path, name, "");
  if (H5Iget_type(object.get()) != H5I_DATASET) {
    return InvalidArgumentError("'" + name + "' in " + path +
                                " is a group, not a dataset; its datasets are fields, name them");
  }
  return Status::Ok();
}

Result<FieldInfo> InspectField(hid_t file, const std::string& path, const std::string& name,
                               std::optional<DType> read_as, std::size_t* stored_size) {
  TRAIN_RETURN_IF_ERROR(CheckIsDataset(file, path, name));
  Hid dataset(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) return Hdf5Error(StatusCode::kDataLoss, "H5Dopen", path, name, "");
  Hid type(H5Dget_type(dataset.get()), H5Tclose);
  Hid space(H5Dget_space(dataset.get()), H5Sclose);
  Hid create_plist(H5Dget_create_plist(dataset.get()), H5Pclose);
  if (!type.valid() || !space.valid() || !create_plist.valid()) {
    return Hdf5Error(StatusCode::kDataLoss, "reading the layout", path, name, "");
  }
  FieldInfo info;
  info.name = name;
  const StoredType stored = DescribeStoredType(type.get());
  info.stored_type = stored.description;
  *stored_size = H5Tget_size(type.get());
  const std::string field = "field '" + name + "' of " + path;
  if (!stored.numeric) {
    return InvalidArgumentError(field + " stores " + stored.description +
                                " values, not numbers; leave it out by listing the fields to "
                                "read in DatasetOptions::fields");
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1) {
    return InvalidArgumentError(field +
                                " is a scalar; a field needs a leading row dimension. "
                                "Leave it out by listing the fields in DatasetOptions::fields");
  }
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  info.shape.assign(dims.begin(), dims.end());
  if (H5Pget_layout(create_plist.get()) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(rank);
    H5Pget_chunk(create_plist.get(), rank, chunk.data());
    info.chunk_shape.assign(chunk.begin(), chunk.end());
  }
  if (read_as) {
    if (DTypeSize(*read_as) == 0) {
      return InvalidArgumentError(
          "DatasetOptions::read_as for " + field + " is not a dtype (value " +
          std::to_string(static_cast<int>(*read_as)) +
          "); use one of float32, float64, float16, bfloat16, int8, uint8, int16, int32, int64");
    }
    info.dtype = *read_as;
  } else if (stored.dtype) {
    info.dtype = *stored.dtype;
  } else {
    const std::string read_as_name = "DatasetOptions::read_as[\"" + name + "\"]";
    return InvalidArgumentError(field + " stores " + stored.description +
                                ", which has no train::DType; read it as another type, e.g. " +
                                read_as_name + " = DType::kInt32 or DType::kFloat32");
  }
  // A row must fit in memory arithmetic: reject shapes whose byte count overflows.
  std::uint64_t row_bytes = DTypeSize(info.dtype);
  for (std::size_t i = 1; i < info.shape.size(); ++i) {
    if (info.shape[i] != 0 &&
        row_bytes > std::numeric_limits<std::uint64_t>::max() / info.shape[i]) {
      return InvalidArgumentError(field +
                                  " has rows too large to address: " + ShapeString(info.shape));
    }
    row_bytes *= info.shape[i];
  }
  return info;
}

// HDF5's own chunk cache would hold the chunks a second time, beside the block cache; a block
// covers whole chunks, so each is decompressed once per block read without it.
Status DisableChunkCache(hid_t access_plist, const std::string& path, const FieldInfo& info) {
  if (info.chunk_shape.empty()) return Status::Ok();
  if (H5Pset_chunk_cache(access_plist, 0, 0, 1.0) < 0) {
    return Hdf5Error(StatusCode::kInternal, "H5Pset_chunk_cache", path, info.name, "");
  }
  return Status::Ok();
}

Status CheckUnchanged(hid_t type, hid_t space, const std::string& path, const FieldInfo& info) {
  const StoredType stored = DescribeStoredType(type);
  std::vector<hsize_t> dims(std::max(H5Sget_simple_extent_ndims(space), 0));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  const std::vector<std::uint64_t> shape(dims.begin(), dims.end());
  if (stored.description == info.stored_type && shape == info.shape) return Status::Ok();
  return FailedPreconditionError("field '" + info.name + "' of " + path + " is " +
                                 stored.description + " " + ShapeString(shape) + " now, " +
                                 info.stored_type + " " + ShapeString(info.shape) +
                                 " when opened. " + kChangedAdvice);
}

// A field opened for reading blocks, with the memory type its rows convert to.
struct OpenField {
  Hid dataset, type, file_space;
  Hid half_type;  // owns memory_type when it is a native-order copy of a half type
  hid_t memory_type = H5I_INVALID_HID;
  bool round_from_double = false;  // read as double, then round to float16/bfloat16
};

Result<OpenField> OpenForRead(hid_t file, const std::string& path, const FieldInfo& info) {
  Hid access_plist(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  if (!access_plist.valid()) return Hdf5Error(StatusCode::kInternal, "H5Pcreate", path, "", "");
  TRAIN_RETURN_IF_ERROR(DisableChunkCache(access_plist.get(), path, info));
  OpenField field;
  field.dataset = Hid(H5Dopen2(file, info.name.c_str(), access_plist.get()), H5Dclose);
  if (!field.dataset.valid()) {
    return Hdf5Error(StatusCode::kFailedPrecondition, "H5Dopen", path, info.name, kChangedAdvice);
  }
  field.type = Hid(H5Dget_type(field.dataset.get()), H5Tclose);
  field.file_space = Hid(H5Dget_space(field.dataset.get()), H5Sclose);
  if (!field.type.valid() || !field.file_space.valid()) {
    return Hdf5Error(StatusCode::kDataLoss, "reading the layout", path, info.name, "");
  }
  TRAIN_RETURN_IF_ERROR(CheckUnchanged(field.type.get(), field.file_space.get(), path, info));
  // float16/bfloat16: read as stored when the file holds that type, else as double and round.
  const std::optional<hid_t> native = NativeType(info.dtype);
  field.round_from_double =
      !native && DescribeStoredType(field.type.get()).dtype != std::optional<DType>(info.dtype);
  if (!native && !field.round_from_double) {
    TRAIN_ASSIGN_OR_RETURN(field.half_type, NativeOrderCopy(field.type.get()));
  }
  field.memory_type = native                    ? *native
                      : field.round_from_double ? H5T_NATIVE_DOUBLE
                                                : field.half_type.get();
  return field;
}

// Rows [first, first + rows) of the field with one H5Dread, converted to info.dtype. The block
// covers whole chunks, so HDF5 decompresses each of them once. One read per block rather than
// one over several: HDF5 1.10 maps an irregular selection onto chunks element by element.
Result<BlockCache::Block> ReadBlock(OpenField& field, const std::string& path,
                                    const FieldInfo& info, std::uint64_t first,
                                    std::uint64_t rows) {
  const std::uint64_t row_elements = Product(info.shape, 1);
  auto block =
      std::make_shared<std::vector<std::byte>>(rows * row_elements * DTypeSize(info.dtype));
  if (block->empty()) return BlockCache::Block(std::move(block));
  const int rank = static_cast<int>(info.shape.size());
  std::vector<hsize_t> start(rank, 0), count(info.shape.begin(), info.shape.end());
  start[0] = first;
  count[0] = rows;
  Hid memory_space(H5Screate_simple(rank, count.data(), nullptr), H5Sclose);
  if (!memory_space.valid()) {
    return Hdf5Error(StatusCode::kInternal, "H5Screate_simple", path, info.name, "");
  }
  if (H5Sselect_hyperslab(field.file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                          count.data(), nullptr) < 0) {
    return Hdf5Error(StatusCode::kInternal, "H5Sselect_hyperslab", path, info.name, "");
  }
  std::vector<double> wide(field.round_from_double ? rows * row_elements : 0);
  void* buffer = field.round_from_double ? static_cast<void*>(wide.data()) : block->data();
  if (H5Dread(field.dataset.get(), field.memory_type, memory_space.get(), field.file_space.get(),
              H5P_DEFAULT, buffer) < 0) {
    return Hdf5Error(StatusCode::kDataLoss, "H5Dread", path, info.name,
                     "The file may be corrupt; check it with h5dump");
  }
  if (field.round_from_double) RoundToHalf(wide.data(), wide.size(), info.dtype, block->data());
  return BlockCache::Block(std::move(block));
}

// Reads the blocks of `plans` that `pinned` lacks (null entries) from the file, keeping them
// in `cache`. Another read may have kept some meanwhile: those are taken from the cache.
Status ReadMissingBlocks(const std::string& path, const FileLayout& layout,
                         const std::vector<BlockPlan>& plans, BlockCache& cache,
                         std::vector<std::vector<BlockCache::Block>>& pinned) {
  Hdf5Lock lock;
  TRAIN_ASSIGN_OR_RETURN(Hid file, OpenFile(path));
  for (std::size_t f = 0; f < layout.fields.size(); ++f) {
    const FieldInfo& info = layout.fields[f];
    std::optional<OpenField> field;
    for (std::size_t b = 0; b < plans[f].blocks.size(); ++b) {
      if (pinned[f][b]) continue;
      const std::uint64_t block = plans[f].blocks[b];
      if ((pinned[f][b] = cache.Find(f, block))) continue;
      if (!field) {
        TRAIN_ASSIGN_OR_RETURN(OpenField opened, OpenForRead(file.get(), path, info));
        field.emplace(std::move(opened));
      }
      const std::uint64_t first = block * layout.block_rows[f];
      TRAIN_ASSIGN_OR_RETURN(pinned[f][b],
                             ReadBlock(*field, path, info, first,
                                       std::min(layout.block_rows[f], layout.rows - first)));
      cache.Insert(f, block, pinned[f][b]);
    }
  }
  return Status::Ok();
}

// Rows per block: the chunk's leading dimension, so a block read decompresses each chunk once;
// for a contiguous field up to kContiguousBlockRows rows, fewer for large rows.
std::uint64_t BlockRows(const FieldInfo& info) {
  constexpr std::uint64_t kContiguousBlockRows = 64, kContiguousBlockBytes = 256 << 10;
  if (!info.chunk_shape.empty()) return std::max<std::uint64_t>(info.chunk_shape[0], 1);
  const std::uint64_t row_bytes =
      std::max<std::uint64_t>(Product(info.shape, 1) * DTypeSize(info.dtype), 1);
  return std::clamp<std::uint64_t>(kContiguousBlockBytes / row_bytes, 1, kContiguousBlockRows);
}

}  // namespace

Result<FileLayout> InspectFile(const std::string& path, const DatasetOptions& options) {
  Hdf5Lock lock;
  TRAIN_ASSIGN_OR_RETURN(Hid file, OpenFile(path));
  std::vector<std::string> names = options.fields;
  if (names.empty()) {
    names = RootDatasets(file.get());
    if (names.empty()) {
      return InvalidArgumentError(path +
                                  " has no datasets at its root; name the fields to read "
                                  "in DatasetOptions::fields");
    }
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!seen.insert(name).second) {
      return InvalidArgumentError("DatasetOptions::fields names '" + name + "' twice");
    }
  }
  for (const auto& [name, dtype] : options.read_as) {
    if (seen.count(name) == 0) {
      return InvalidArgumentError("DatasetOptions::read_as names '" + name +
                                  "', which is not a field being read from " + path +
                                  " (fields: " + JoinNames(names) + ")");
    }
  }
  FileLayout layout;
  for (const std::string& name : names) {
    const auto read_as = options.read_as.find(name);
    std::size_t stored_size = 0;
    TRAIN_ASSIGN_OR_RETURN(FieldInfo info, InspectField(file.get(), path, name,
                                                        read_as == options.read_as.end()
                                                            ? std::nullopt
                                                            : std::optional<DType>(read_as->second),
                                                        &stored_size));
    if (!layout.fields.empty() && info.shape[0] != layout.rows) {
      const FieldInfo& first = layout.fields.front();
      return InvalidArgumentError("fields of " + path + " differ in length: '" + first.name +
                                  "' has " + std::to_string(first.shape[0]) + " rows, '" + name +
                                  "' has " + std::to_string(info.shape[0]) +
                                  "; every field needs the same leading dimension");
    }
    layout.rows = info.shape[0];
    layout.block_rows.push_back(BlockRows(info));
    layout.fields.push_back(std::move(info));
    layout.stored_sizes.push_back(stored_size);
  }
  return layout;
}

Result<Batch> ReadRows(const std::string& path, const FileLayout& layout,
                       const std::vector<std::uint64_t>& indices, BlockCache& cache) {
  const std::size_t num_fields = layout.fields.size();
  std::vector<BlockPlan> plans(num_fields);
  std::vector<std::vector<BlockCache::Block>> pinned(num_fields);
  bool missing = false;
  for (std::size_t f = 0; f < num_fields; ++f) {
    plans[f] = PlanBlocks(indices, layout.block_rows[f]);
    for (std::uint64_t block : plans[f].blocks) {
      pinned[f].push_back(cache.Find(f, block));
      missing = missing || !pinned[f].back();
    }
  }
  // The file is open only while blocks are read; the cache is plain memory.
  if (missing) TRAIN_RETURN_IF_ERROR(ReadMissingBlocks(path, layout, plans, cache, pinned));
  Batch batch;
  for (std::size_t f = 0; f < num_fields; ++f) {
    const FieldInfo& info = layout.fields[f];
    HostTensor out;
    out.dtype = info.dtype;
    out.shape = info.shape;
    out.shape[0] = indices.size();
    const std::size_t row_bytes = Product(info.shape, 1) * DTypeSize(info.dtype);
    out.bytes.resize(indices.size() * row_bytes);
    std::vector<const std::byte*> blocks;
    for (const BlockCache::Block& block : pinned[f]) blocks.push_back(block->data());
    GatherRows(plans[f], blocks, row_bytes, out.bytes.data());
    batch.emplace(info.name, std::move(out));
  }
  return batch;
}

}  // namespace train::internal
