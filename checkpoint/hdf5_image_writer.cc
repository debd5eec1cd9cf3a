#include "hdf5_image_writer.h"

#include <hdf5.h>

#include <algorithm>
#include <set>

#include "train/internal/hdf5_util.h"

namespace train::internal {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "checkpoint files are written from memory as little-endian");

// The file type, which is also the memory type: elements are copied without conversion.
Result<Hid> FileType(DType dtype, const std::string& file_name) {
  hid_t base = H5I_INVALID_HID;
  switch (dtype) {
    case DType::kFloat32:
      base = H5T_IEEE_F32LE;
      break;
    case DType::kFloat64:
      base = H5T_IEEE_F64LE;
      break;
    case DType::kFloat16:
      base = H5T_IEEE_F32LE;
      break;  // narrowed below
    case DType::kBFloat16:
      base = H5T_STD_U16LE;
      break;  // HDF5 and h5py have no bfloat16
    case DType::kInt8:
      base = H5T_STD_I8LE;
      break;
    case DType::kUInt8:
      base = H5T_STD_U8LE;
      break;
    case DType::kInt16:
      base = H5T_STD_I16LE;
      break;
    case DType::kInt32:
      base = H5T_STD_I32LE;
      break;
    case DType::kInt64:
      base = H5T_STD_I64LE;
      break;
  }
  Hid type(H5Tcopy(base), H5Tclose);
  if (!type.valid()) return Hdf5Error(StatusCode::kInternal, "H5Tcopy", file_name, "", "");
  if (dtype == DType::kFloat16 &&
      (H5Tset_fields(type.get(), 15, 10, 5, 0, 10) < 0 || H5Tset_size(type.get(), 2) < 0 ||
       H5Tset_ebias(type.get(), 15) < 0)) {
    return Hdf5Error(StatusCode::kInternal, "making the float16 type", file_name, "", "");
  }
  return type;
}

Status WriteStringAttribute(hid_t object, const char* name, const std::string& value,
                            const std::string& file_name) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!type.valid() || !space.valid() ||
      H5Tset_size(type.get(), std::max<size_t>(1, value.size())) < 0) {
    return Hdf5Error(StatusCode::kInternal, "creating a string attribute", file_name, name, "");
  }
  Hid attribute(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
  if (!attribute.valid() || H5Awrite(attribute.get(), type.get(), value.c_str()) < 0) {
    return Hdf5Error(StatusCode::kInternal, "H5Awrite", file_name, name, "");
  }
  return Status::Ok();
}

Status WriteU64Attribute(hid_t object, const char* name, const std::vector<std::uint64_t>& values,
                         bool scalar, const std::string& file_name) {
  const hsize_t count = values.size();
  Hid space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr), H5Sclose);
  if (!space.valid()) return Hdf5Error(StatusCode::kInternal, "H5Screate", file_name, name, "");
  Hid attribute(H5Acreate2(object, name, H5T_STD_U64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
  if (!attribute.valid() ||
      (!values.empty() && H5Awrite(attribute.get(), H5T_NATIVE_UINT64, values.data()) < 0)) {
    return Hdf5Error(StatusCode::kInternal, "H5Awrite", file_name, name, "");
  }
  return Status::Ok();
}

// Creates the groups above `path` without timestamps (intermediate groups made by HDF5 itself
// would carry the creation time, and two saves of the same state would differ).
Status CreateParentGroups(hid_t file, const std::string& path, hid_t group_plist,
                          std::set<std::string>& created, const std::string& file_name) {
  for (std::size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string group = path.substr(0, slash);
    if (!created.insert(group).second) continue;
    Hid id(H5Gcreate2(file, group.c_str(), H5P_DEFAULT, group_plist, H5P_DEFAULT), H5Gclose);
    if (!id.valid()) {
      return Hdf5Error(StatusCode::kInvalidArgument, "H5Gcreate", file_name, group,
                       "A name is used both as a tensor and as a group; rename one");
    }
  }
  return Status::Ok();
}

Status WriteDataset(hid_t file, const DatasetToWrite& item, hid_t link_plist, hid_t dataset_plist,
                    const std::string& file_name, std::uint64_t* data_offset) {
  TRAIN_ASSIGN_OR_RETURN(Hid type, FileType(item.dtype, file_name));
  const std::vector<hsize_t> dims(item.dims.begin(), item.dims.end());
  Hid space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  if (!space.valid())
    return Hdf5Error(StatusCode::kInternal, "H5Screate", file_name, item.path, "");
  Hid dataset(H5Dcreate2(file, item.path.c_str(), type.get(), space.get(), link_plist,
                         dataset_plist, H5P_DEFAULT),
              H5Dclose);
  if (!dataset.valid()) {
    return Hdf5Error(StatusCode::kInvalidArgument, "H5Dcreate", file_name, item.path,
                     "Tensor names must be unique and no name may be the group of another");
  }
  std::uint64_t count = 1;
  for (std::uint64_t d : item.dims) count *= d;
  if (count > 0 &&
      H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, item.data) < 0) {
    return Hdf5Error(StatusCode::kInternal, "H5Dwrite", file_name, item.path, "");
  }
  const haddr_t offset = count > 0 ? H5Dget_offset(dataset.get()) : HADDR_UNDEF;
  if (count > 0 && offset == HADDR_UNDEF) {
    return Hdf5Error(StatusCode::kInternal, "H5Dget_offset", file_name, item.path, "");
  }
  *data_offset = count > 0 ? offset : 0;
  TRAIN_RETURN_IF_ERROR(
      WriteStringAttribute(dataset.get(), "dtype", std::string(DTypeName(item.dtype)), file_name));
  TRAIN_RETURN_IF_ERROR(
      WriteU64Attribute(dataset.get(), "shape", item.shape_attribute, false, file_name));
  if (item.offset_attribute) {
    TRAIN_RETURN_IF_ERROR(
        WriteU64Attribute(dataset.get(), "offset", {*item.offset_attribute}, true, file_name));
  }
  return Status::Ok();
}

}  // namespace

Result<Hdf5Image> BuildHdf5Image(const std::vector<DatasetToWrite>& datasets,
                                 const std::string& file_name) {
  std::uint64_t data_bytes = 0;
  for (const DatasetToWrite& item : datasets) {
    std::uint64_t count = DTypeSize(item.dtype);
    for (std::uint64_t d : item.dims) count *= d;
    data_bytes += count;
  }
  Hdf5Lock lock;
  Hid file_access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  Hid group_plist(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  Hid dataset_plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  Hid link_plist(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  // One allocation of the whole image: the data plus room for the metadata.
  const std::size_t increment = static_cast<std::size_t>(data_bytes) + (std::size_t{1} << 20);
  if (!file_access.valid() || !group_plist.valid() || !dataset_plist.valid() ||
      !link_plist.valid() || H5Pset_fapl_core(file_access.get(), increment, false) < 0 ||
      H5Pset_obj_track_times(group_plist.get(), false) < 0 ||
      H5Pset_obj_track_times(dataset_plist.get(), false) < 0 ||
      H5Pset_layout(dataset_plist.get(), H5D_CONTIGUOUS) < 0 ||
      H5Pset_alloc_time(dataset_plist.get(), H5D_ALLOC_TIME_EARLY) < 0 ||
      H5Pset_fill_time(dataset_plist.get(), H5D_FILL_TIME_NEVER) < 0 ||
      H5Pset_create_intermediate_group(link_plist.get(), 1) < 0 ||
      H5Pset_char_encoding(link_plist.get(), H5T_CSET_UTF8) < 0) {
    return Hdf5Error(StatusCode::kInternal, "setting up the in-memory file", file_name, "", "");
  }
  Hid file(H5Fcreate(file_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, file_access.get()), H5Fclose);
  if (!file.valid()) return Hdf5Error(StatusCode::kInternal, "H5Fcreate", file_name, "", "");

  Hdf5Image image;
  image.data_offsets.resize(datasets.size());
  std::set<std::string> groups;
  for (std::size_t i = 0; i < datasets.size(); ++i) {
    TRAIN_RETURN_IF_ERROR(
        CreateParentGroups(file.get(), datasets[i].path, group_plist.get(), groups, file_name));
    TRAIN_RETURN_IF_ERROR(WriteDataset(file.get(), datasets[i], link_plist.get(),
                                       dataset_plist.get(), file_name, &image.data_offsets[i]));
  }
  if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
    return Hdf5Error(StatusCode::kInternal, "H5Fflush", file_name, "", "");
  }
  const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
  if (size < 0) return Hdf5Error(StatusCode::kInternal, "H5Fget_file_image", file_name, "", "");
  image.bytes.resize(static_cast<std::size_t>(size));
  if (H5Fget_file_image(file.get(), image.bytes.data(), image.bytes.size()) != size) {
    return Hdf5Error(StatusCode::kInternal, "H5Fget_file_image", file_name, "", "");
  }
  return image;
}

}  // namespace train::internal
