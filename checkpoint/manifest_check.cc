// ValidateManifest: the consistency of a parsed manifest, checked before any of its numbers
// sizes an allocation or a read.
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "manifest.h"

namespace train::internal {
namespace {

// Element counts and byte sizes stay below this, so that sums and products of two never wrap.
constexpr std::uint64_t kMaxBytes = std::uint64_t{1} << 62;
constexpr std::size_t kMaxFileNameBytes = 255;

std::string Quoted(const std::string& text) {
  return "'" + (text.size() > 80 ? text.substr(0, 60) + "..." : text) + "'";
}

// Why `name` is not a plain file name of the step directory ("" when it is one).
std::string FileNameProblem(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name.size() > kMaxFileNameBytes) return "is longer than a file name can be";
  if (name == "." || name == "..") return "names a directory, not a file";
  if (name.find('/') != std::string::npos) {
    return "is a path, not a file name: checkpoint files lie directly in the step directory";
  }
  if (name.find('\0') != std::string::npos) return "holds a NUL byte";
  if (name == kManifestName) return "is the manifest itself";
  return "";
}

// Why `name` is not a valid tensor, buffer or state name ("" when it is one): the same rule as
// Save's, non-empty parts separated by single '/', no '.' or '..'.
std::string NameProblem(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name.find('\0') != std::string::npos) return "holds a NUL byte";
  if (name.front() == '/' || name.back() == '/') return "starts or ends with '/'";
  for (std::size_t start = 0; start <= name.size();) {
    std::size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return "has an empty, '.' or '..' part";
    start = end + 1;
  }
  return "";
}

class Checker {
 public:
  Checker(const Manifest& manifest, const std::string& where) : m_(manifest), where_(where) {}

  Status Run(std::optional<std::int64_t> expected_step) {
    if (m_.world_size < 1)
      return Bad("world_size",
                 "is " + std::to_string(m_.world_size) + "; a job has at least 1 rank");
    if (expected_step && *expected_step != m_.step) {
      return Bad("step", "is " + std::to_string(m_.step) + " but the directory is step-" +
                             std::to_string(*expected_step));
    }
    TRAIN_RETURN_IF_ERROR(CheckFiles());
    TRAIN_RETURN_IF_ERROR(CheckTensors());
    std::set<std::string> names;
    for (std::size_t i = 0; i < m_.optimizer_buffers.size(); ++i) {
      TRAIN_RETURN_IF_ERROR(CheckBuffer(m_.optimizer_buffers[i],
                                        "optimizer.buffers[" + std::to_string(i) + "]",
                                        kOptimizerGroup, names));
    }
    std::size_t index = 0;
    for (const auto& [rank, states] : m_.rng_by_rank) {
      const std::string field = "rng[" + std::to_string(index++) + "]";
      if (rank >= m_.world_size) {
        return Bad(field + ".rank", "is " + std::to_string(rank) + " but the world size is " +
                                        std::to_string(m_.world_size));
      }
      std::set<std::string> state_names;
      for (std::size_t i = 0; i < states.size(); ++i) {
        TRAIN_RETURN_IF_ERROR(CheckBuffer(states[i], field + ".states[" + std::to_string(i) + "]",
                                          kRngGroup, state_names));
      }
    }
    return CheckNoOverlap();
  }

 private:
  Status Bad(const std::string& field, const std::string& what) const {
    return DataLossError("manifest " + where_ + ": field '" + field + "' " + what +
                         "; the checkpoint is damaged");
  }

  Status CheckFiles() {
    for (std::size_t i = 0; i < m_.files.size(); ++i) {
      const ManifestFile& file = m_.files[i];
      const std::string field = "files[" + std::to_string(i) + "]";
      const std::string problem = FileNameProblem(file.name);
      if (!problem.empty())
        return Bad(field + ".name", "is " + Quoted(file.name) + ", which " + problem);
      if (file.bytes > kMaxBytes) return Bad(field + ".bytes", "is " + std::to_string(file.bytes));
      if (!bytes_.emplace(file.name, file.bytes).second) {
        return Bad(field + ".name",
                   "is " + Quoted(file.name) + ", which an earlier entry names too");
      }
    }
    return Status::Ok();
  }

  Status CheckTensors() {
    std::set<std::string> names;
    for (std::size_t i = 0; i < m_.tensors.size(); ++i) {
      const ManifestTensor& t = m_.tensors[i];
      const std::string field = "tensors[" + std::to_string(i) + "]";
      const std::string problem = NameProblem(t.name);
      if (!problem.empty())
        return Bad(field + ".name", "is " + Quoted(t.name) + ", which " + problem);
      if (!names.insert(t.name).second) {
        return Bad(field + ".name", "is " + Quoted(t.name) + ", which an earlier tensor has too");
      }
      const std::uint64_t element = DTypeSize(t.dtype);
      std::uint64_t numel = 1;
      for (std::size_t d = 0; d < t.shape.size(); ++d) {
        if (t.shape[d] != 0 && numel > kMaxBytes / element / t.shape[d]) {
          return Bad(field + ".shape", "holds more than " + std::to_string(kMaxBytes / element) +
                                           " elements (dimension " + std::to_string(d) + " is " +
                                           std::to_string(t.shape[d]) + ")");
        }
        numel *= t.shape[d];
      }
      std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
      for (std::size_t p = 0; p < t.pieces.size(); ++p) {
        const ManifestPiece& piece = t.pieces[p];
        const std::string piece_field = field + ".pieces[" + std::to_string(p) + "]";
        TRAIN_RETURN_IF_ERROR(CheckPiece(piece, piece_field, element, kTensorGroup + t.name));
        if (piece.offset > numel || piece.count > numel - piece.offset) {
          return Bad(piece_field, "holds elements [" + std::to_string(piece.offset) + ", " +
                                      std::to_string(piece.offset) + "+" +
                                      std::to_string(piece.count) + ") but the tensor has " +
                                      std::to_string(numel));
        }
        ranges.emplace_back(piece.offset, piece.count);
      }
      std::sort(ranges.begin(), ranges.end());
      std::uint64_t end = 0;
      for (const auto& [offset, count] : ranges) {
        if (offset != end) {
          return Bad(field + ".pieces", "leave a gap or overlap at element " + std::to_string(end) +
                                            " of tensor " + Quoted(t.name));
        }
        end += count;
      }
      if (end != numel) {
        return Bad(field + ".pieces", "cover " + std::to_string(end) + " of the " +
                                          std::to_string(numel) + " elements of tensor " +
                                          Quoted(t.name));
      }
    }
    return Status::Ok();
  }

  Status CheckBuffer(const ManifestBuffer& buffer, const std::string& field, const char* group,
                     std::set<std::string>& names) {
    const std::string problem = NameProblem(buffer.name);
    if (!problem.empty())
      return Bad(field + ".name", "is " + Quoted(buffer.name) + ", which " + problem);
    if (!names.insert(buffer.name).second) {
      return Bad(field + ".name", "is " + Quoted(buffer.name) + ", which an earlier entry has too");
    }
    if (buffer.piece.offset != 0) {
      return Bad(field + ".offset",
                 "is " + std::to_string(buffer.piece.offset) + "; a buffer starts at 0");
    }
    return CheckPiece(buffer.piece, field, 1, group + buffer.name);
  }

  // The piece's bytes lie inside its file as the manifest lists it; remembered for the
  // overlap check.
  Status CheckPiece(const ManifestPiece& piece, const std::string& field, std::uint64_t element,
                    const std::string& dataset) {
    auto file = bytes_.find(piece.file);
    if (file == bytes_.end()) {
      return Bad(field + ".file", "is " + Quoted(piece.file) + ", which 'files' does not list");
    }
    if (piece.dataset != dataset) {
      return Bad(field + ".dataset",
                 "is " + Quoted(piece.dataset) + "; it must be " + Quoted(dataset));
    }
    if (piece.count > kMaxBytes / element) {
      return Bad(field + ".count",
                 "is " + std::to_string(piece.count) + ", more than any file holds");
    }
    const std::uint64_t bytes = piece.count * element;
    if (bytes == 0) return Status::Ok();
    if (piece.byte_offset > file->second || bytes > file->second - piece.byte_offset) {
      return Bad(field + ".count",
                 "is " + std::to_string(piece.count) + " (" + std::to_string(bytes) +
                     " bytes from byte " + std::to_string(piece.byte_offset) + "), but file " +
                     piece.file + " holds " + std::to_string(file->second) + " bytes");
    }
    ranges_.push_back({piece.file, piece.byte_offset, piece.byte_offset + bytes, field});
    return Status::Ok();
  }

  Status CheckNoOverlap() {
    std::sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) {
      return std::tie(a.file, a.begin) < std::tie(b.file, b.begin);
    });
    for (std::size_t i = 1; i < ranges_.size(); ++i) {
      const Range& a = ranges_[i - 1];
      const Range& b = ranges_[i];
      if (a.file == b.file && b.begin < a.end) {
        return Bad(b.field + ".byte_offset", "is " + std::to_string(b.begin) +
                                                 ", inside the bytes of '" + a.field + "' in " +
                                                 a.file);
      }
    }
    return Status::Ok();
  }

  struct Range {
    std::string file;
    std::uint64_t begin, end;
    std::string field;
  };

  const Manifest& m_;
  const std::string& where_;
  std::map<std::string, std::uint64_t> bytes_;  // by file name
  std::vector<Range> ranges_;
};

}  // namespace

Status ValidateManifest(const Manifest& manifest, const std::string& where,
                        std::optional<std::int64_t> expected_step) {
  return Checker(manifest, where).Run(expected_step);
}

}  // namespace train::internal
