#include "data/hdf5_types.h"

#include <cstddef>

namespace train::internal {
namespace {

struct FloatLayout {
  std::size_t size, sign_pos, exp_pos, exp_bits, mant_pos, mant_bits, bias;
  DType dtype;
  const char* name;
};
constexpr FloatLayout kFloatLayouts[] = {
    {4, 31, 23, 8, 0, 23, 127, DType::kFloat32, "float32"},
    {8, 63, 52, 11, 0, 52, 1023, DType::kFloat64, "float64"},
    {2, 15, 10, 5, 0, 10, 15, DType::kFloat16, "float16"},
    {2, 15, 7, 8, 0, 7, 127, DType::kBFloat16, "bfloat16"},
};

StoredType DescribeInteger(hid_t type, std::size_t size) {
  StoredType out;
  out.numeric = true;
  const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
  const std::size_t bits = H5Tget_precision(type);
  const bool plain = bits == 8 * size && H5Tget_offset(type) == 0;
  out.description = std::string(is_signed ? "int" : "uint") + std::to_string(bits);
  if (!plain) out.description += " in " + std::to_string(size) + " bytes";
  if (plain && is_signed) {
    if (size == 1) out.dtype = DType::kInt8;
    if (size == 2) out.dtype = DType::kInt16;
    if (size == 4) out.dtype = DType::kInt32;
    if (size == 8) out.dtype = DType::kInt64;
  }
  if (plain && !is_signed && size == 1) out.dtype = DType::kUInt8;
  return out;
}

StoredType DescribeFloat(hid_t type, std::size_t size) {
  StoredType out;
  out.numeric = true;
  std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
  const std::size_t bias = H5Tget_ebias(type);
  for (const FloatLayout& f : kFloatLayouts) {
    if (f.size == size && f.sign_pos == spos && f.exp_pos == epos && f.exp_bits == esize &&
        f.mant_pos == mpos && f.mant_bits == msize && f.bias == bias) {
      out.dtype = f.dtype;
      out.description = f.name;
      return out;
    }
  }
  out.description = "float of " + std::to_string(size) + " bytes (" + std::to_string(esize) +
                    " exponent and " + std::to_string(msize) + " mantissa bits)";
  return out;
}

const char* ClassName(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_REFERENCE:
      return "reference";
    case H5T_VLEN:
      return "variable-length";
    case H5T_ARRAY:
      return "array";
    case H5T_TIME:
      return "time";
    default:
      return "unknown";
  }
}

}  // namespace

StoredType DescribeStoredType(hid_t file_type) {
  const H5T_class_t type_class = H5Tget_class(file_type);
  const std::size_t size = H5Tget_size(file_type);
  StoredType out;
  if (type_class == H5T_INTEGER) {
    out = DescribeInteger(file_type, size);
  } else if (type_class == H5T_FLOAT) {
    out = DescribeFloat(file_type, size);
  } else {
    out.description = ClassName(type_class);
    return out;
  }
  if (size > 1 && H5Tget_order(file_type) != H5Tget_order(H5T_NATIVE_INT)) {
    out.description += H5Tget_order(file_type) == H5T_ORDER_BE ? " big-endian" : " little-endian";
  }
  return out;
}

std::optional<hid_t> NativeType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return H5T_NATIVE_FLOAT;
    case DType::kFloat64:
      return H5T_NATIVE_DOUBLE;
    case DType::kInt8:
      return H5T_NATIVE_INT8;
    case DType::kUInt8:
      return H5T_NATIVE_UINT8;
    case DType::kInt16:
      return H5T_NATIVE_INT16;
    case DType::kInt32:
      return H5T_NATIVE_INT32;
    case DType::kInt64:
      return H5T_NATIVE_INT64;
    case DType::kFloat16:
    case DType::kBFloat16:
      return std::nullopt;
  }
  return std::nullopt;
}

Result<Hid> NativeOrderCopy(hid_t file_type) {
  Hid copy(H5Tcopy(file_type), H5Tclose);
  if (!copy.valid() || H5Tset_order(copy.get(), H5Tget_order(H5T_NATIVE_FLOAT)) < 0) {
    return InternalError("copying a 16-bit float type failed: " + TakeHdf5ErrorStack());
  }
  return copy;
}

}  // namespace train::internal
