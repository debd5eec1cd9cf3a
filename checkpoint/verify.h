// Reading a committed checkpoint's manifest and checking files against it.
#ifndef TRAIN_CHECKPOINT_VERIFY_H_
#define TRAIN_CHECKPOINT_VERIFY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "file_layer.h"
#include "manifest.h"
#include "train/status.h"

namespace train::internal {

// <step_dir>/manifest.json, parsed and validated (ValidateManifest; a directory named step-<N>
// must hold step N); the error names it (NOT_FOUND when missing, DATA_LOSS when torn,
// inconsistent, too large, or not a regular file).
Result<Manifest> ReadManifest(const FileLayer& files, const std::string& step_dir);

// Every file of the manifest is a regular file of the size it lists (nothing is read). Run
// before anything is sized from the manifest: its pieces lie within the listed sizes, so
// buffers are then bounded by the files really there.
Status CheckFilesPresent(const std::string& step_dir, const Manifest& manifest);

// A range of a checked file that goes straight into memory the caller owns.
struct ReadTarget {
  std::uint64_t file_offset = 0;
  std::uint64_t bytes = 0;
  std::byte* to = nullptr;
};

// Reads <step_dir>/<file.name> once, sequentially in large chunks, with the CRC32C computed as
// the bytes arrive (on another thread than the reading): each target's bytes land directly in
// its memory, the rest passes through a small bounded buffer. Checks the size first and the
// checksum at the end; on a mismatch the targets hold whatever the file held (the caller
// treats them as not loaded). Targets must lie within file.bytes; they may overlap. The error
// names the file and what is wrong (DATA_LOSS) or why it cannot be read.
Status ReadVerifiedFile(const std::string& step_dir, const ManifestFile& file,
                        std::vector<ReadTarget> targets);

// Every file of the manifest, in order (size, checksum, then its datasets against the
// manifest's pieces: CheckPiecesAgainstFile); the first bad one is the error.
Status VerifyAllFiles(const std::string& step_dir, const Manifest& manifest);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_VERIFY_H_
