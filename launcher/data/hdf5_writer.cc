#include "hdf5_writer.h"

#include <algorithm>
#include <bit>
#include <filesystem>
#include <mutex>

#include "shape_text.h"

namespace trainctl::data {
namespace {

constexpr uint64_t kMaxDefaultChunkRows = 1024;
constexpr uint64_t kTargetChunkBytes = uint64_t{32} << 10;

herr_t CollectError(unsigned /*n*/, const H5E_error2_t* error, void* data) {
  auto* frames = static_cast<std::vector<std::string>*>(data);
  std::string frame = error->func_name != nullptr ? error->func_name : "?";
  frame += "(): ";
  frame += error->desc != nullptr ? error->desc : "unknown error";
  frames->push_back(std::move(frame));
  return 0;
}

// A scalar or 1-D dataspace.
SpaceHandle MakeSpace(const std::vector<hsize_t>& dims) {
  if (dims.empty()) return SpaceHandle(H5Screate(H5S_SCALAR));
  return SpaceHandle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
}

// A variable-length UTF-8 string type.
TypeHandle StringType() {
  TypeHandle type(H5Tcopy(H5T_C_S1));
  if (type.valid() &&
      (H5Tset_size(type.get(), H5T_VARIABLE) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)) {
    type.Reset();
  }
  return type;
}

train::Status WriteAttributeRaw(hid_t object, std::string_view name, hid_t type,
                                const std::vector<hsize_t>& dims, const void* data) {
  const std::string key(name);
  if (H5Aexists(object, key.c_str()) > 0 && H5Adelete(object, key.c_str()) < 0) {
    return Hdf5Error("replacing attribute " + key);
  }
  SpaceHandle space = MakeSpace(dims);
  if (!space.valid()) return Hdf5Error("attribute " + key + ": dataspace");
  AttrHandle attr(H5Acreate2(object, key.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid()) return Hdf5Error("creating attribute " + key);
  if (H5Awrite(attr.get(), type, data) < 0) return Hdf5Error("writing attribute " + key);
  return attr.Close("closing attribute " + key);
}

}  // namespace

void SilenceHdf5Errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

train::Status Hdf5Error(std::string_view what) {
  std::vector<std::string> frames;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CollectError, &frames);
  H5Eclear2(H5E_DEFAULT);
  // The API call says what was attempted and the innermost frames why it failed; the frames in
  // between repeat them.
  std::string message(what);
  for (size_t i = 0; i < frames.size(); ++i) {
    if (i == 0 || i + 2 >= frames.size()) message += (i == 0 ? ": " : "; ") + frames[i];
  }
  if (frames.empty()) message += ": HDF5 reported no detail";
  return train::InternalError(std::move(message));
}

train::Result<hid_t> NativeType(train::DType dtype) {
  switch (dtype) {
    case train::DType::kFloat32:
      return H5T_NATIVE_FLOAT;
    case train::DType::kFloat64:
      return H5T_NATIVE_DOUBLE;
    case train::DType::kInt8:
      return H5T_NATIVE_INT8;
    case train::DType::kUInt8:
      return H5T_NATIVE_UINT8;
    case train::DType::kInt16:
      return H5T_NATIVE_INT16;
    case train::DType::kInt32:
      return H5T_NATIVE_INT32;
    case train::DType::kInt64:
      return H5T_NATIVE_INT64;
    case train::DType::kFloat16:
    case train::DType::kBFloat16:
      break;
  }
  return train::InvalidArgumentError("dtype " + std::string(train::DTypeName(dtype)) +
                                     " has no HDF5 type here; convert to float32 first");
}

train::Status WriteAttribute(hid_t object, std::string_view name, std::string_view value) {
  TypeHandle type = StringType();
  if (!type.valid()) return Hdf5Error("string type");
  const std::string text(value);
  const char* pointer = text.c_str();
  return WriteAttributeRaw(object, name, type.get(), {}, &pointer);
}

train::Status WriteAttribute(hid_t object, std::string_view name,
                             const std::vector<std::string>& values) {
  TypeHandle type = StringType();
  if (!type.valid()) return Hdf5Error("string type");
  std::vector<const char*> pointers;
  for (const std::string& value : values) pointers.push_back(value.c_str());
  return WriteAttributeRaw(object, name, type.get(), {values.size()}, pointers.data());
}

train::Status WriteAttribute(hid_t object, std::string_view name, int64_t value) {
  return WriteAttributeRaw(object, name, H5T_NATIVE_INT64, {}, &value);
}

uint64_t DefaultChunkRows(uint64_t row_bytes, uint64_t rows) {
  uint64_t chunk = kMaxDefaultChunkRows;
  if (row_bytes > 0) {
    chunk = std::min(chunk, std::bit_floor(std::max<uint64_t>(1, kTargetChunkBytes / row_bytes)));
  }
  return std::max<uint64_t>(1, std::min(chunk, rows));
}

train::Result<DatasetWriter> DatasetWriter::Create(hid_t file, const DatasetSpec& spec,
                                                   std::string_view file_name) {
  SilenceHdf5Errors();
  if (spec.shape.empty()) {
    return train::InvalidArgumentError("dataset " + spec.name + ": needs at least one dimension");
  }
  if (spec.compression < 0 || spec.compression > 9) {
    return train::InvalidArgumentError("compression level " + std::to_string(spec.compression) +
                                       " is out of range; use 0 (none) to 9 (smallest)");
  }
  TRAIN_ASSIGN_OR_RETURN(hid_t mem_type, NativeType(spec.dtype));

  DatasetWriter writer;
  writer.where_ = std::string(file_name) + ": dataset " + spec.name;
  writer.mem_type_ = mem_type;
  writer.element_size_ = H5Tget_size(mem_type);
  writer.shape_.assign(spec.shape.begin(), spec.shape.end());
  for (size_t i = 1; i < writer.shape_.size(); ++i) writer.row_elements_ *= writer.shape_[i];
  const uint64_t rows = writer.shape_[0];
  writer.chunk_rows_ = spec.chunk_rows > 0
                           ? std::min<uint64_t>(spec.chunk_rows, std::max<uint64_t>(rows, 1))
                           : DefaultChunkRows(writer.row_bytes(), rows);
  writer.growable_ = spec.growable;
  if (spec.growable) writer.shape_[0] = 0;

  // Unlimited rows: chunking is then always allowed, and an empty dataset (N = 0) works too.
  std::vector<hsize_t> max_shape = writer.shape_;
  max_shape[0] = H5S_UNLIMITED;
  SpaceHandle space(H5Screate_simple(static_cast<int>(writer.shape_.size()), writer.shape_.data(),
                                     max_shape.data()));
  if (!space.valid()) return Hdf5Error(writer.where_ + ": dataspace");

  PlistHandle create(H5Pcreate(H5P_DATASET_CREATE));
  std::vector<hsize_t> chunk = writer.shape_;
  chunk[0] = writer.chunk_rows_;
  for (hsize_t& dim : chunk) dim = std::max<hsize_t>(dim, 1);  // HDF5 refuses 0-sized chunks
  if (!create.valid() ||
      H5Pset_chunk(create.get(), static_cast<int>(chunk.size()), chunk.data()) < 0) {
    return Hdf5Error(writer.where_ + ": chunk shape " + ShapeText(chunk));
  }
  if (spec.compression > 0) {
    if (writer.element_size_ > 1 && H5Pset_shuffle(create.get()) < 0) {
      return Hdf5Error(writer.where_ + ": shuffle filter");
    }
    if (H5Pset_deflate(create.get(), static_cast<unsigned>(spec.compression)) < 0) {
      return Hdf5Error(writer.where_ + ": deflate filter");
    }
  }
  // Chunks are written whole and in order, so no fill pass is needed.
  if (H5Pset_fill_time(create.get(), H5D_FILL_TIME_NEVER) < 0) {
    return Hdf5Error(writer.where_ + ": fill time");
  }

  TypeHandle file_type(H5Tcopy(mem_type));
  if (!file_type.valid() || H5Tset_order(file_type.get(), H5T_ORDER_LE) < 0) {
    return Hdf5Error(writer.where_ + ": file type");
  }
  writer.dataset_ = DatasetHandle(H5Dcreate2(file, spec.name.c_str(), file_type.get(), space.get(),
                                             H5P_DEFAULT, create.get(), H5P_DEFAULT));
  if (!writer.dataset_.valid()) return Hdf5Error("creating " + writer.where_);
  return writer;
}

train::Status DatasetWriter::WriteRows(const void* data, uint64_t rows) {
  if (rows == 0) return train::Status::Ok();
  if (growable_) {
    std::vector<hsize_t> grown = shape_;
    grown[0] = rows_written_ + rows;
    if (H5Dset_extent(dataset_.get(), grown.data()) < 0) {
      return Hdf5Error(where_ + ": growing to " + std::to_string(grown[0]) + " rows");
    }
    shape_ = std::move(grown);
  }
  if (rows_written_ + rows > shape_[0]) {
    return train::InternalError(where_ + ": writing rows " + std::to_string(rows_written_) + ".." +
                                std::to_string(rows_written_ + rows) + " past its " +
                                std::to_string(shape_[0]) + " rows");
  }
  std::vector<hsize_t> start(shape_.size(), 0), count = shape_;
  start[0] = rows_written_;
  count[0] = rows;
  SpaceHandle file_space(H5Dget_space(dataset_.get()));
  SpaceHandle mem_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
  if (!file_space.valid() || !mem_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                          nullptr) < 0 ||
      H5Dwrite(dataset_.get(), mem_type_, mem_space.get(), file_space.get(), H5P_DEFAULT, data) <
          0) {
    return Hdf5Error(where_ + ": writing rows " + std::to_string(rows_written_) + ".." +
                     std::to_string(rows_written_ + rows));
  }
  rows_written_ += rows;
  return train::Status::Ok();
}

train::Status DatasetWriter::Finish() {
  if (rows_written_ != shape_[0]) {
    return train::InternalError(where_ + ": " + std::to_string(rows_written_) + " of " +
                                std::to_string(shape_[0]) + " rows written");
  }
  return dataset_.Close("closing " + where_);
}

train::Result<FileHandle> CreateHdf5File(const std::string& path) {
  SilenceHdf5Errors();
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return train::AlreadyExistsError(path + ": exists already");
  }
  FileHandle file(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT));
  if (!file.valid()) return Hdf5Error(path + ": cannot create the HDF5 file");
  return file;
}

train::Status CloseHdf5File(FileHandle file, std::string_view path) {
  if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
    return Hdf5Error(std::string(path) + ": writing the HDF5 file");
  }
  return file.Close(std::string(path) + ": closing the HDF5 file");
}

}  // namespace trainctl::data
