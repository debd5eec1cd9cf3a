#include "data/hdf5_reader.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "data/float_convert.h"
#include "data/hdf5_types.h"
#include "data/hdf5_util.h"

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

// Sizes the chunk cache for the chunks this read touches, so none is evicted and decompressed
// again before the read is done, without holding more than `limit` bytes.
Status SetChunkCache(hid_t access_plist, const FieldInfo& info, std::size_t stored_size,
                     const ReadPlan& plan, std::size_t limit) {
  if (info.chunk_shape.empty()) return Status::Ok();
  const std::uint64_t chunk_rows = info.chunk_shape[0];
  std::uint64_t row_blocks = 0;
  std::uint64_t last_block = std::numeric_limits<std::uint64_t>::max();
  for (const RowRun& run : plan.runs) {  // runs ascend: each block is counted once
    const std::uint64_t first = run.start / chunk_rows,
                        last = (run.start + run.count - 1) / chunk_rows;
    row_blocks += last - first + 1 - (first == last_block ? 1 : 0);
    last_block = last;
  }
  std::uint64_t chunks_per_block = 1;
  for (std::size_t i = 1; i < info.shape.size(); ++i) {
    chunks_per_block *= (info.shape[i] + info.chunk_shape[i] - 1) / info.chunk_shape[i];
  }
  const std::uint64_t chunk_bytes = Product(info.chunk_shape, 0) * stored_size;
  const std::uint64_t wanted = row_blocks * chunks_per_block * chunk_bytes;
  const std::uint64_t bytes = std::min<std::uint64_t>(wanted, limit);
  // Ten slots per cached chunk keep hash collisions (which evict) rare.
  const std::uint64_t slots = std::min<std::uint64_t>(10 * (bytes / chunk_bytes) + 11, 1 << 22);
  if (H5Pset_chunk_cache(access_plist, slots, bytes, 1.0) < 0) {
    return InternalError("H5Pset_chunk_cache failed for field '" + info.name +
                         "': " + TakeHdf5ErrorStack());
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

// Reads the runs of `plan` one after the other into `buffer` (distinct rows, ascending).
// One read per run rather than one over the union of the runs: HDF5 1.10 maps an irregular
// selection onto chunks element by element, which made shuffled batches 1.2-11x slower (more
// so the smaller the chunks). The chunk cache keeps a chunk that several runs share from
// being decompressed again.
Status ReadRuns(hid_t dataset, hid_t file_space, hid_t memory_type, const ReadPlan& plan,
                const std::string& path, const FieldInfo& info, void* buffer) {
  const int rank = static_cast<int>(info.shape.size());
  std::vector<hsize_t> start(rank, 0), count(info.shape.begin(), info.shape.end());
  std::vector<hsize_t> memory_start(rank, 0), memory_dims = count;
  memory_dims[0] = plan.distinct_rows;
  Hid memory_space(H5Screate_simple(rank, memory_dims.data(), nullptr), H5Sclose);
  if (!memory_space.valid()) {
    return Hdf5Error(StatusCode::kInternal, "H5Screate_simple", path, info.name, "");
  }
  for (const RowRun& run : plan.runs) {
    start[0] = run.start;
    count[0] = run.count;
    if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(),
                            nullptr) < 0 ||
        H5Sselect_hyperslab(memory_space.get(), H5S_SELECT_SET, memory_start.data(), nullptr,
                            count.data(), nullptr) < 0) {
      return Hdf5Error(StatusCode::kInternal, "H5Sselect_hyperslab", path, info.name, "");
    }
    if (H5Dread(dataset, memory_type, memory_space.get(), file_space, H5P_DEFAULT, buffer) < 0) {
      return Hdf5Error(StatusCode::kDataLoss, "H5Dread", path, info.name,
                       "The file may be corrupt; check it with h5dump");
    }
    memory_start[0] += run.count;
  }
  return Status::Ok();
}

Result<HostTensor> ReadField(hid_t file, const std::string& path, const FieldInfo& info,
                             std::size_t stored_size, const ReadPlan& plan,
                             std::size_t chunk_cache_bytes) {
  Hid access_plist(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  if (!access_plist.valid()) return Hdf5Error(StatusCode::kInternal, "H5Pcreate", path, "", "");
  TRAIN_RETURN_IF_ERROR(
      SetChunkCache(access_plist.get(), info, stored_size, plan, chunk_cache_bytes));
  Hid dataset(H5Dopen2(file, info.name.c_str(), access_plist.get()), H5Dclose);
  if (!dataset.valid()) {
    return Hdf5Error(StatusCode::kFailedPrecondition, "H5Dopen", path, info.name, kChangedAdvice);
  }
  Hid type(H5Dget_type(dataset.get()), H5Tclose);
  Hid file_space(H5Dget_space(dataset.get()), H5Sclose);
  if (!type.valid() || !file_space.valid()) {
    return Hdf5Error(StatusCode::kDataLoss, "reading the layout", path, info.name, "");
  }
  TRAIN_RETURN_IF_ERROR(CheckUnchanged(type.get(), file_space.get(), path, info));

  // float16/bfloat16: read as stored when the file holds that type, else as double and round.
  const std::optional<hid_t> native = NativeType(info.dtype);
  const bool round_from_double =
      !native && DescribeStoredType(type.get()).dtype != std::optional<DType>(info.dtype);
  Hid half_type;
  if (!native && !round_from_double) {
    TRAIN_ASSIGN_OR_RETURN(half_type, NativeOrderCopy(type.get()));
  }
  const hid_t memory_type = native              ? *native
                            : round_from_double ? H5T_NATIVE_DOUBLE
                                                : half_type.get();

  const std::uint64_t row_elements = Product(info.shape, 1);
  const std::size_t row_bytes = row_elements * DTypeSize(info.dtype);
  HostTensor out;
  out.dtype = info.dtype;
  out.shape = info.shape;
  out.shape[0] = plan.slot.size();
  out.bytes.resize(plan.slot.size() * row_bytes);
  std::vector<std::byte> distinct;  // the rows in file order, when they are not the batch as is
  if (!plan.in_order) distinct.resize(plan.distinct_rows * row_bytes);
  std::byte* rows = plan.in_order ? out.bytes.data() : distinct.data();
  std::vector<double> wide(round_from_double ? plan.distinct_rows * row_elements : 0);
  void* buffer = round_from_double ? static_cast<void*>(wide.data()) : rows;

  if (row_elements > 0) {
    TRAIN_RETURN_IF_ERROR(
        ReadRuns(dataset.get(), file_space.get(), memory_type, plan, path, info, buffer));
  }
  if (round_from_double) RoundToHalf(wide.data(), wide.size(), info.dtype, rows);
  if (!plan.in_order) ScatterRows(plan, distinct.data(), row_bytes, out.bytes.data());
  return out;
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
    layout.fields.push_back(std::move(info));
    layout.stored_sizes.push_back(stored_size);
  }
  return layout;
}

Result<Batch> ReadRows(const std::string& path, const FileLayout& layout, const ReadPlan& plan,
                       std::size_t chunk_cache_bytes) {
  Batch batch;
  if (plan.slot.empty()) {  // nothing to read: empty tensors of the right shape
    for (const FieldInfo& info : layout.fields) {
      HostTensor empty;
      empty.dtype = info.dtype;
      empty.shape = info.shape;
      empty.shape[0] = 0;
      batch.emplace(info.name, std::move(empty));
    }
    return batch;
  }
  Hdf5Lock lock;
  TRAIN_ASSIGN_OR_RETURN(Hid file, OpenFile(path));
  for (std::size_t i = 0; i < layout.fields.size(); ++i) {
    const FieldInfo& info = layout.fields[i];
    TRAIN_ASSIGN_OR_RETURN(
        HostTensor tensor,
        ReadField(file.get(), path, info, layout.stored_sizes[i], plan, chunk_cache_bytes));
    batch.emplace(info.name, std::move(tensor));
  }
  return batch;
}

}  // namespace train::internal
