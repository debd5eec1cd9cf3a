// manifest.json: what a committed checkpoint holds and how to check it. Written last, by rank 0,
// so a directory with a complete manifest had every file written and fsynced before it.
#ifndef TRAIN_CHECKPOINT_MANIFEST_H_
#define TRAIN_CHECKPOINT_MANIFEST_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "train/dtype.h"
#include "train/sampler.h"
#include "train/status.h"

namespace train::internal {

inline constexpr int kManifestFormatVersion = 1;
inline constexpr char kManifestName[] = "manifest.json";
// A larger manifest is refused unread (a real one takes some hundred bytes per tensor piece).
inline constexpr std::size_t kMaxManifestBytes = std::size_t{256} << 20;
inline constexpr char kTensorGroup[] = "tensors/";
inline constexpr char kOptimizerGroup[] = "optimizer/";
inline constexpr char kRngGroup[] = "rng/";

struct ManifestFile {
  std::string name;  // relative to the step directory: "rank-0.h5"
  std::uint64_t bytes = 0;
  std::uint32_t crc32c = 0;
};

// One contiguous range of a tensor's flattened elements, stored as one dataset.
struct ManifestPiece {
  std::string file;
  std::string dataset;            // "tensors/layer1/weight"
  std::uint64_t offset = 0;       // first element of the global tensor
  std::uint64_t count = 0;        // elements
  std::uint64_t byte_offset = 0;  // where the elements start in the file (HDF5 contiguous data)
};

struct ManifestTensor {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<std::uint64_t> shape;
  bool replicated = true;
  std::vector<ManifestPiece> pieces;  // by offset
};

struct ManifestBuffer {  // an optimizer buffer or an RNG state: bytes in one dataset
  std::string name;
  ManifestPiece piece;  // offset 0, count = bytes
};

struct Manifest {
  int format_version = kManifestFormatVersion;
  std::int64_t step = 0;
  std::string job_id;
  int world_size = 0;
  std::string library_version;
  std::string created;                  // UTC, ISO 8601
  std::vector<ManifestFile> files;      // by name
  std::vector<ManifestTensor> tensors;  // by name
  std::optional<SamplerState> sampler;
  std::map<std::string, std::string> metadata;
  std::int64_t optimizer_step = -1;                        // -1: no optimizer state
  std::vector<ManifestBuffer> optimizer_buffers;           // in the optimizer's order
  std::map<int, std::vector<ManifestBuffer>> rng_by_rank;  // by saving rank
};

std::string ManifestToJson(const Manifest& manifest);
// `where` names the file in errors. DATA_LOSS, naming the field and its value, for JSON that is
// not a manifest: a missing field, one of the wrong type, a number or string out of bounds.
// Never throws. A parsed manifest is not yet known to be consistent: see ValidateManifest.
Result<Manifest> ParseManifest(const std::string& text, const std::string& where);

// What a committed manifest must satisfy before anything is sized or read from it: plain file
// names (no '/', '.', '..'), each listed once and not the manifest; unique tensor, buffer and
// state names, with their datasets where the library puts them; known dtypes; shapes whose
// element count and byte size fit in 63 bits; pieces that lie inside their file's listed
// bytes, do not overlap one another, and tile each tensor exactly; RNG ranks below the world
// size; `expected_step` (the directory's step-<N>, when known) equal to `step`.
// DATA_LOSS naming the field and the value.
Status ValidateManifest(const Manifest& manifest, const std::string& where,
                        std::optional<std::int64_t> expected_step);

// The current time as "2024-05-01T12:00:00Z".
std::string UtcNowIso8601();

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_MANIFEST_H_
