#include "hdf5_layout_check.h"

#include <hdf5.h>

#include "train/internal/hdf5_util.h"

namespace train::internal {
namespace {

H5T_class_t ClassOf(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat16:
      return H5T_FLOAT;
    default:
      return H5T_INTEGER;  // bfloat16 is stored as uint16
  }
}

Status Mismatch(const std::string& path, const PieceToCheck& check, const std::string& what) {
  return DataLossError("checkpoint file " + path + ": dataset " + check.piece->dataset + " " +
                       what + " (manifest field '" + check.field +
                       "'); the manifest does not describe the file: the checkpoint is damaged");
}

Status CheckOne(hid_t file, const std::string& path, const PieceToCheck& check) {
  const ManifestPiece& piece = *check.piece;
  if (H5Lexists(file, piece.dataset.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return Mismatch(path, check, "is not in the file");
  }
  Hid dataset(H5Dopen2(file, piece.dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) {
    return Hdf5Error(StatusCode::kDataLoss, "H5Dopen2", path, piece.dataset,
                     "the checkpoint is damaged");
  }
  Hid type(H5Dget_type(dataset.get()), H5Tclose);
  Hid space(H5Dget_space(dataset.get()), H5Sclose);
  Hid create(H5Dget_create_plist(dataset.get()), H5Pclose);
  if (!type.valid() || !space.valid() || !create.valid()) {
    return Hdf5Error(StatusCode::kDataLoss, "reading the dataset's type and extent", path,
                     piece.dataset, "the checkpoint is damaged");
  }
  const std::size_t element = DTypeSize(check.dtype);
  if (H5Tget_size(type.get()) != element || H5Tget_class(type.get()) != ClassOf(check.dtype)) {
    return Mismatch(path, check,
                    "holds elements of " + std::to_string(H5Tget_size(type.get())) +
                        " bytes that are not " + std::string(DTypeName(check.dtype)));
  }
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0 || static_cast<std::uint64_t>(points) != piece.count) {
    return Mismatch(path, check,
                    "holds " + std::to_string(points) + " elements; the manifest's count is " +
                        std::to_string(piece.count));
  }
  if (H5Pget_layout(create.get()) != H5D_CONTIGUOUS) {
    return Mismatch(path, check, "is not stored contiguously");
  }
  if (piece.count == 0) return Status::Ok();
  const haddr_t offset = H5Dget_offset(dataset.get());
  if (offset == HADDR_UNDEF || offset != piece.byte_offset) {
    H5Eclear2(H5E_DEFAULT);
    return Mismatch(path, check,
                    "starts at byte " +
                        (offset == HADDR_UNDEF ? std::string("(none)") : std::to_string(offset)) +
                        "; the manifest's byte_offset is " + std::to_string(piece.byte_offset));
  }
  return Status::Ok();
}

}  // namespace

Status CheckPiecesAgainstFile(const std::string& step_dir, const std::string& file_name,
                              const std::vector<PieceToCheck>& pieces) {
  const std::string path = step_dir + "/" + file_name;
  bool any = false;
  for (const PieceToCheck& check : pieces) any = any || check.piece->file == file_name;
  if (!any) return Status::Ok();
  Hdf5Lock lock;
  Hid access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // Read-only, and the file was just checksummed: no lock (which some filesystems refuse).
  if (!access.valid() || H5Pset_file_locking(access.get(), false, true) < 0) {
    return Hdf5Error(StatusCode::kInternal, "H5Pset_file_locking", path, "", "");
  }
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.get()), H5Fclose);
  if (!file.valid()) {
    return Hdf5Error(StatusCode::kDataLoss, "H5Fopen", path, "",
                     "the file is not the HDF5 file its manifest describes: the checkpoint is "
                     "damaged");
  }
  for (const PieceToCheck& check : pieces) {
    if (check.piece->file != file_name) continue;
    TRAIN_RETURN_IF_ERROR(CheckOne(file.get(), path, check));
  }
  return Status::Ok();
}

std::vector<PieceToCheck> AllPieces(const Manifest& manifest) {
  std::vector<PieceToCheck> pieces;
  for (std::size_t i = 0; i < manifest.tensors.size(); ++i) {
    const ManifestTensor& t = manifest.tensors[i];
    for (std::size_t p = 0; p < t.pieces.size(); ++p) {
      pieces.push_back({&t.pieces[p], t.dtype,
                        "tensors[" + std::to_string(i) + "].pieces[" + std::to_string(p) + "]"});
    }
  }
  for (std::size_t i = 0; i < manifest.optimizer_buffers.size(); ++i) {
    pieces.push_back({&manifest.optimizer_buffers[i].piece, DType::kUInt8,
                      "optimizer.buffers[" + std::to_string(i) + "]"});
  }
  std::size_t index = 0;
  for (const auto& [rank, states] : manifest.rng_by_rank) {
    for (std::size_t i = 0; i < states.size(); ++i) {
      pieces.push_back({&states[i].piece, DType::kUInt8,
                        "rng[" + std::to_string(index) + "].states[" + std::to_string(i) + "]"});
    }
    ++index;
  }
  return pieces;
}

}  // namespace train::internal
