// Reading a committed checkpoint's manifest and checking files against it.
#ifndef TRAIN_CHECKPOINT_VERIFY_H_
#define TRAIN_CHECKPOINT_VERIFY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "file_layer.h"
#include "manifest.h"
#include "train/status.h"

namespace train::internal {

// <step_dir>/manifest.json, parsed; the error names it (NOT_FOUND when missing, DATA_LOSS when
// torn or unreadable).
Result<Manifest> ReadManifest(const FileLayer& files, const std::string& step_dir);

// Reads <step_dir>/<file.name> whole and checks its size and CRC32C; the error names the file
// and what is wrong (DATA_LOSS) or why it cannot be read.
Result<std::vector<std::byte>> ReadVerifiedFile(const FileLayer& files, const std::string& step_dir,
                                                const ManifestFile& file);

// Every file of the manifest, in order; the first bad one is the error.
Status VerifyAllFiles(const FileLayer& files, const std::string& step_dir,
                      const Manifest& manifest);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_VERIFY_H_
