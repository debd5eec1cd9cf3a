// The manifest says where each piece's elements lie in its file; loading reads them from there
// without HDF5. This checks those claims against the HDF5 file itself, so that a manifest that
// was changed (its checksums cover the data files, not itself) cannot make a load read other
// bytes than the dataset's, or size a buffer by a count the file does not hold.
#ifndef TRAIN_CHECKPOINT_HDF5_LAYOUT_CHECK_H_
#define TRAIN_CHECKPOINT_HDF5_LAYOUT_CHECK_H_

#include <string>
#include <vector>

#include "manifest.h"
#include "train/status.h"

namespace train::internal {

struct PieceToCheck {
  const ManifestPiece* piece;
  DType dtype;        // of the elements (uint8 for optimizer buffers and RNG states)
  std::string field;  // where the manifest holds it, for errors ("tensors[3].pieces[0]")
};

// Every piece whose file is `file_name`: its dataset exists, is contiguous, holds `count`
// elements of the dtype's size and class, and its data starts at `byte_offset`. Only for a
// file already checked against its size and checksum (HDF5 is not asked to parse a file the
// manifest does not vouch for). DATA_LOSS naming the field and both values. Takes the
// process's HDF5 lock.
Status CheckPiecesAgainstFile(const std::string& step_dir, const std::string& file_name,
                              const std::vector<PieceToCheck>& pieces);

// The pieces of every tensor, optimizer buffer and RNG state of `manifest`, by file name.
std::vector<PieceToCheck> AllPieces(const Manifest& manifest);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_HDF5_LAYOUT_CHECK_H_
