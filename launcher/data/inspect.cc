#include "inspect.h"

#include <filesystem>

#include "hdf5_writer.h"

namespace trainctl::data {
namespace {

using ObjectHandle = Hdf5Handle<H5Oclose>;

std::string TypeName(hid_t type) {
  const size_t size = H5Tget_size(type);
  const std::string bytes = "(" + std::to_string(size) + " bytes)";
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(8 * size);
    case H5T_FLOAT:
      return size == 2 || size == 4 || size == 8 ? "float" + std::to_string(8 * size)
                                                 : "float" + bytes;
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0 ? "string" : "string(" + std::to_string(size) + ")";
    case H5T_ENUM:
      return "enum" + bytes;
    case H5T_COMPOUND:
      return "compound" + bytes;
    case H5T_ARRAY:
      return "array" + bytes;
    case H5T_VLEN:
      return "vlen";
    case H5T_OPAQUE:
      return "opaque" + bytes;
    case H5T_BITFIELD:
      return "bitfield" + bytes;
    case H5T_REFERENCE:
      return "reference";
    default:
      return "unknown" + bytes;
  }
}

std::vector<uint64_t> Shape(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank > 0 ? static_cast<size_t>(rank) : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return {dims.begin(), dims.end()};
}

// Strings come back as std::string whether stored variable-length or fixed-size.
train::Status ReadStrings(hid_t attr, hid_t file_type, hid_t space, size_t count,
                          std::vector<std::string>* out) {
  if (H5Tis_variable_str(file_type) > 0) {
    TypeHandle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(file_type));
    std::vector<char*> pointers(count, nullptr);
    if (H5Aread(attr, mem.get(), pointers.data()) < 0) return Hdf5Error("reading a string");
    for (char* p : pointers) out->emplace_back(p != nullptr ? p : "");
    H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, pointers.data());
    return train::Status::Ok();
  }
  const size_t size = H5Tget_size(file_type);
  TypeHandle mem(H5Tcopy(file_type));
  std::vector<char> bytes(size * count);
  if (H5Aread(attr, mem.get(), bytes.data()) < 0) return Hdf5Error("reading a string");
  for (size_t i = 0; i < count; ++i) {
    std::string s(bytes.data() + i * size, size);
    s.erase(std::min(s.find('\0'), s.size()));
    while (!s.empty() && s.back() == ' ') s.pop_back();  // space-padded strings
    out->push_back(std::move(s));
  }
  return train::Status::Ok();
}

template <typename T>
train::Status ReadNumbers(hid_t attr, hid_t mem_type, size_t count, AttributeInfo* info) {
  std::vector<T> values(count);
  if (count > 0 && H5Aread(attr, mem_type, values.data()) < 0) return Hdf5Error("reading");
  info->values = std::move(values);
  return train::Status::Ok();
}

train::Result<AttributeInfo> ReadAttribute(hid_t object, const std::string& name) {
  AttrHandle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) return Hdf5Error("opening attribute " + name);
  TypeHandle type(H5Aget_type(attr.get()));
  SpaceHandle space(H5Aget_space(attr.get()));
  if (!type.valid() || !space.valid()) return Hdf5Error("attribute " + name);
  AttributeInfo info;
  info.name = name;
  info.type = TypeName(type.get());
  info.shape = Shape(space.get());
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  const size_t count = points > 0 ? static_cast<size_t>(points) : 0;
  train::Status status;
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: {
      std::vector<std::string> strings;
      status = ReadStrings(attr.get(), type.get(), space.get(), count, &strings);
      info.type = "string";
      info.values = std::move(strings);
      break;
    }
    case H5T_INTEGER:
      status = H5Tget_sign(type.get()) == H5T_SGN_NONE
                   ? ReadNumbers<uint64_t>(attr.get(), H5T_NATIVE_UINT64, count, &info)
                   : ReadNumbers<int64_t>(attr.get(), H5T_NATIVE_INT64, count, &info);
      break;
    case H5T_FLOAT:
      status = ReadNumbers<double>(attr.get(), H5T_NATIVE_DOUBLE, count, &info);
      break;
    default:
      break;  // shown by its type only
  }
  if (!status.ok()) return status.WithContext("attribute " + name);
  return info;
}

herr_t CollectAttributeName(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

herr_t CollectLinkName(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

train::Result<std::vector<AttributeInfo>> ReadAttributes(hid_t object) {
  std::vector<std::string> names;
  if (H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nullptr, CollectAttributeName, &names) < 0) {
    return Hdf5Error("listing attributes");
  }
  std::vector<AttributeInfo> attributes;
  for (const std::string& name : names) {
    TRAIN_ASSIGN_OR_RETURN(AttributeInfo info, ReadAttribute(object, name));
    attributes.push_back(std::move(info));
  }
  return attributes;
}

train::Result<DatasetInfo> ReadDataset(hid_t dataset, const std::string& name) {
  DatasetInfo info;
  info.name = name;
  TypeHandle type(H5Dget_type(dataset));
  SpaceHandle space(H5Dget_space(dataset));
  PlistHandle create(H5Dget_create_plist(dataset));
  if (!type.valid() || !space.valid() || !create.valid()) return Hdf5Error("dataset " + name);
  info.dtype = TypeName(type.get());
  info.shape = Shape(space.get());
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  info.raw_bytes = static_cast<uint64_t>(std::max<hssize_t>(points, 0)) * H5Tget_size(type.get());
  info.storage_bytes = H5Dget_storage_size(dataset);

  switch (H5Pget_layout(create.get())) {
    case H5D_CHUNKED: {
      info.layout = "chunked";
      std::vector<hsize_t> chunk(info.shape.size());
      H5Pget_chunk(create.get(), static_cast<int>(chunk.size()), chunk.data());
      info.chunks.assign(chunk.begin(), chunk.end());
      break;
    }
    case H5D_CONTIGUOUS:
      info.layout = "contiguous";
      break;
    case H5D_COMPACT:
      info.layout = "compact";
      break;
    case H5D_VIRTUAL:
      info.layout = "virtual";
      break;
    default:
      info.layout = "unknown";
  }
  const int filters = H5Pget_nfilters(create.get());
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, config = 0;
    size_t count = 8;
    unsigned options[8] = {};
    char filter_name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(create.get(), static_cast<unsigned>(i), &flags, &count,
                                           options, sizeof(filter_name), filter_name, &config);
    if (id < 0) return Hdf5Error("dataset " + name + ": filter " + std::to_string(i));
    FilterInfo filter;
    filter.id = id;
    filter.name = filter_name[0] != '\0' ? filter_name : "filter " + std::to_string(id);
    filter.options.assign(options, options + std::min<size_t>(count, 8));
    info.filters.push_back(std::move(filter));
  }
  TRAIN_ASSIGN_OR_RETURN(info.attributes, ReadAttributes(dataset));
  return info;
}

}  // namespace

train::Result<FileInfo> InspectFile(const std::string& path) {
  SilenceHdf5Errors();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return train::NotFoundError(path + ": no such file; check the path");
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return train::InvalidArgumentError(path +
                                       ": not an HDF5 file; `trainctl data import` makes one "
                                       "from IDX or CSV files");
  }
  FileHandle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.valid()) return Hdf5Error(path + ": cannot open");

  FileInfo info;
  info.path = path;
  info.file_bytes = std::filesystem::file_size(path, ec);
  auto attributes = ReadAttributes(file.get());
  if (!attributes.ok()) return attributes.status().WithContext(path);
  info.attributes = std::move(attributes).value();

  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_INC, &index, CollectLinkName, &names) < 0) {
    return Hdf5Error(path + ": listing the root group");
  }
  for (const std::string& name : names) {
    ObjectHandle object(H5Oopen(file.get(), name.c_str(), H5P_DEFAULT));
    if (!object.valid()) {
      H5Eclear2(H5E_DEFAULT);
      info.others.push_back("link " + name + " (points to nothing)");
      continue;
    }
    switch (H5Iget_type(object.get())) {
      case H5I_DATASET: {
        auto dataset = ReadDataset(object.get(), name);
        if (!dataset.ok()) return dataset.status().WithContext(path);
        info.datasets.push_back(std::move(dataset).value());
        break;
      }
      case H5I_GROUP:
        info.others.push_back("group " + name);
        break;
      case H5I_DATATYPE:
        info.others.push_back("named type " + name);
        break;
      default:
        info.others.push_back("object " + name);
    }
  }

  for (const DatasetInfo& dataset : info.datasets) {
    if (dataset.shape.empty()) continue;  // scalars have no rows
    if (!info.common_rows) {
      info.common_rows = dataset.shape[0];
    } else if (*info.common_rows != dataset.shape[0]) {
      info.common_rows.reset();
      break;
    }
  }
  return info;
}

}  // namespace trainctl::data
