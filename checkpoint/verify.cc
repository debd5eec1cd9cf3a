#include "verify.h"

#include <cstdio>

#include "crc32c.h"

namespace train::internal {
namespace {

std::string Hex(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "%08x", value);
  return text;
}

}  // namespace

Result<Manifest> ReadManifest(const FileLayer& files, const std::string& step_dir) {
  const std::string path = step_dir + "/" + kManifestName;
  Result<std::vector<std::byte>> bytes = files.ReadFile(path);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return NotFoundError("checkpoint manifest " + path + " is missing");
    }
    return bytes.status();
  }
  const std::string text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  return ParseManifest(text, path);
}

Result<std::vector<std::byte>> ReadVerifiedFile(const FileLayer& files, const std::string& step_dir,
                                                const ManifestFile& file) {
  const std::string path = step_dir + "/" + file.name;
  Result<std::vector<std::byte>> bytes = files.ReadFile(path);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return NotFoundError("checkpoint file " + path + " is missing");
    }
    return bytes.status();
  }
  if (bytes->size() != file.bytes) {
    return DataLossError("checkpoint file " + path + " has " + std::to_string(bytes->size()) +
                         " bytes; the manifest says " + std::to_string(file.bytes));
  }
  const std::uint32_t crc = Crc32c(bytes->data(), bytes->size());
  if (crc != file.crc32c) {
    return DataLossError("checkpoint file " + path + " is corrupt: its CRC32C is " + Hex(crc) +
                         "; the manifest says " + Hex(file.crc32c));
  }
  return bytes;
}

Status VerifyAllFiles(const FileLayer& files, const std::string& step_dir,
                      const Manifest& manifest) {
  for (const ManifestFile& file : manifest.files) {
    TRAIN_RETURN_IF_ERROR(ReadVerifiedFile(files, step_dir, file).status());
  }
  return Status::Ok();
}

}  // namespace train::internal
