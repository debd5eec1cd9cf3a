#include "manifest.h"

#include <ctime>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>

namespace train::internal {
namespace {

using nlohmann::json;

// Bounds on what a manifest may hold, far above what a real job writes, so that a damaged or
// hostile manifest is refused before its numbers size anything.
constexpr std::size_t kMaxNameBytes = 4096;
constexpr std::size_t kMaxTextBytes = std::size_t{16} << 20;
constexpr std::size_t kMaxItems = std::size_t{1} << 22;
constexpr std::size_t kMaxDims = 32;
constexpr std::int64_t kMaxWorldSize = std::int64_t{1} << 20;

// A field that is missing, of the wrong type or out of bounds: caught in ParseManifest and
// returned as DATA_LOSS naming the field and its value.
struct FieldError {
  std::string message;
};

std::string Shown(const json& j) {
  std::string text = j.is_string() ? "'" + j.get_ref<const std::string&>() + "'" : j.dump();
  if (text.size() > 80)
    text = text.substr(0, 60) + "... (" + std::to_string(text.size()) + " bytes)";
  return text;
}

[[noreturn]] void Bad(const std::string& field, const std::string& what) {
  throw FieldError{"field '" + field + "' " + what};
}

const json& At(const json& object, const std::string& field, const char* key) {
  const std::string name = field.empty() ? key : field + "." + key;
  if (!object.is_object())
    Bad(field.empty() ? "(top level)" : field,
        "must be an object, not " + std::string(object.type_name()));
  auto it = object.find(key);
  if (it == object.end()) Bad(name, "is missing");
  return *it;
}

std::string Join(const std::string& field, const char* key) {
  return field.empty() ? key : field + "." + key;
}

std::string Index(const std::string& field, std::size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

std::string String(const json& j, const std::string& field, std::size_t max_bytes) {
  if (!j.is_string())
    Bad(field, "must be a string, not " + std::string(j.type_name()) + " " + Shown(j));
  const std::string& text = j.get_ref<const std::string&>();
  if (text.size() > max_bytes) {
    Bad(field, "is " + std::to_string(text.size()) + " bytes long; at most " +
                   std::to_string(max_bytes) + " are accepted");
  }
  return text;
}

std::uint64_t Unsigned(const json& j, const std::string& field, std::uint64_t max) {
  if (!j.is_number_integer() ||
      (j.is_number_integer() && !j.is_number_unsigned() && j.get<std::int64_t>() < 0)) {
    Bad(field,
        "must be a non-negative integer, not " + std::string(j.type_name()) + " " + Shown(j));
  }
  const std::uint64_t value = j.get<std::uint64_t>();
  if (value > max)
    Bad(field, "is " + std::to_string(value) + "; at most " + std::to_string(max) + " is accepted");
  return value;
}

std::int64_t Signed(const json& j, const std::string& field, std::int64_t min, std::int64_t max) {
  if (!j.is_number_integer()) {
    Bad(field, "must be an integer, not " + std::string(j.type_name()) + " " + Shown(j));
  }
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    Bad(field, "is " + Shown(j) + "; at most " + std::to_string(max) + " is accepted");
  }
  const std::int64_t value = j.get<std::int64_t>();
  if (value < min || value > max) {
    Bad(field, "is " + std::to_string(value) + "; it must lie in [" + std::to_string(min) + ", " +
                   std::to_string(max) + "]");
  }
  return value;
}

const json& Array(const json& j, const std::string& field, std::size_t max_items) {
  if (!j.is_array())
    Bad(field, "must be an array, not " + std::string(j.type_name()) + " " + Shown(j));
  if (j.size() > max_items) {
    Bad(field, "has " + std::to_string(j.size()) + " entries; at most " +
                   std::to_string(max_items) + " are accepted");
  }
  return j;
}

ManifestPiece PieceFrom(const json& j, const std::string& field) {
  ManifestPiece piece;
  piece.file = String(At(j, field, "file"), Join(field, "file"), kMaxNameBytes);
  piece.dataset = String(At(j, field, "dataset"), Join(field, "dataset"), kMaxNameBytes);
  constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();
  piece.offset = Unsigned(At(j, field, "offset"), Join(field, "offset"), kMax);
  piece.count = Unsigned(At(j, field, "count"), Join(field, "count"), kMax);
  piece.byte_offset = Unsigned(At(j, field, "byte_offset"), Join(field, "byte_offset"), kMax);
  return piece;
}

std::vector<ManifestBuffer> BuffersFrom(const json& j, const std::string& field) {
  std::vector<ManifestBuffer> buffers;
  const json& items = Array(j, field, kMaxItems);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string item = Index(field, i);
    buffers.push_back({String(At(items[i], item, "name"), Join(item, "name"), kMaxNameBytes),
                       PieceFrom(items[i], item)});
  }
  return buffers;
}

ManifestTensor TensorFrom(const json& t, const std::string& field) {
  ManifestTensor tensor;
  tensor.name = String(At(t, field, "name"), Join(field, "name"), kMaxNameBytes);
  const std::string dtype_name = String(At(t, field, "dtype"), Join(field, "dtype"), kMaxNameBytes);
  Result<DType> dtype = ParseDType(dtype_name);
  if (!dtype.ok())
    Bad(Join(field, "dtype"), "is '" + dtype_name + "', which is no dtype this library knows");
  tensor.dtype = *dtype;
  const std::string shape_field = Join(field, "shape");
  const json& shape = Array(At(t, field, "shape"), shape_field, kMaxDims);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    tensor.shape.push_back(
        Unsigned(shape[d], Index(shape_field, d), std::numeric_limits<std::int64_t>::max()));
  }
  const json& replicated = At(t, field, "replicated");
  if (!replicated.is_boolean()) {
    Bad(Join(field, "replicated"), "must be true or false, not " + Shown(replicated));
  }
  tensor.replicated = replicated.get<bool>();
  const std::string pieces_field = Join(field, "pieces");
  const json& pieces = Array(At(t, field, "pieces"), pieces_field, kMaxItems);
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    tensor.pieces.push_back(PieceFrom(pieces[p], Index(pieces_field, p)));
  }
  return tensor;
}

Manifest FromJson(const json& j) {
  if (!j.is_object()) Bad("(top level)", "must be an object, not " + std::string(j.type_name()));
  Manifest m;
  m.format_version = static_cast<int>(
      Signed(At(j, "", "format_version"), "format_version", 0, std::numeric_limits<int>::max()));
  if (m.format_version != kManifestFormatVersion) {
    throw FieldError{"format version " + std::to_string(m.format_version) +
                     " is not the one this library reads (" +
                     std::to_string(kManifestFormatVersion) + ")"};
  }
  m.step = Signed(At(j, "", "step"), "step", 0, std::numeric_limits<std::int64_t>::max());
  m.job_id = String(At(j, "", "job_id"), "job_id", kMaxNameBytes);
  // 0 is a rank's part of a manifest being merged; ValidateManifest asks for at least 1.
  m.world_size = static_cast<int>(Signed(At(j, "", "world_size"), "world_size", 0, kMaxWorldSize));
  m.library_version = String(At(j, "", "library_version"), "library_version", kMaxNameBytes);
  m.created = String(At(j, "", "created"), "created", kMaxNameBytes);
  const json& files = Array(At(j, "", "files"), "files", kMaxItems);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string field = Index("files", i);
    m.files.push_back({String(At(files[i], field, "name"), Join(field, "name"), kMaxNameBytes),
                       Unsigned(At(files[i], field, "bytes"), Join(field, "bytes"),
                                std::numeric_limits<std::int64_t>::max()),
                       static_cast<std::uint32_t>(Unsigned(At(files[i], field, "crc32c"),
                                                           Join(field, "crc32c"), 0xffffffffu))});
  }
  const json& tensors = Array(At(j, "", "tensors"), "tensors", kMaxItems);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    m.tensors.push_back(TensorFrom(tensors[i], Index("tensors", i)));
  }
  const json& sampler = At(j, "", "sampler");
  if (!sampler.is_null()) {
    Result<SamplerState> parsed = SamplerState::Parse(String(sampler, "sampler", kMaxNameBytes));
    if (!parsed.ok()) Bad("sampler", "is " + Shown(sampler) + ": " + parsed.status().message());
    m.sampler = *parsed;
  }
  const json& metadata = At(j, "", "metadata");
  if (!metadata.is_object()) {
    Bad("metadata", "must be an object, not " + std::string(metadata.type_name()));
  }
  if (metadata.size() > kMaxItems) Bad("metadata", "has too many entries");
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    const std::string field = "metadata." + it.key().substr(0, 64);
    if (it.key().size() > kMaxNameBytes) Bad(field, "has a key longer than 4096 bytes");
    m.metadata[it.key()] = String(it.value(), field, kMaxTextBytes);
  }
  const json& optimizer = At(j, "", "optimizer");
  if (!optimizer.is_null()) {
    m.optimizer_step = Signed(At(optimizer, "optimizer", "step"), "optimizer.step", 0,
                              std::numeric_limits<std::int64_t>::max());
    m.optimizer_buffers = BuffersFrom(At(optimizer, "optimizer", "buffers"), "optimizer.buffers");
  }
  const json& rng = Array(At(j, "", "rng"), "rng", kMaxItems);
  for (std::size_t i = 0; i < rng.size(); ++i) {
    const std::string field = Index("rng", i);
    const int rank = static_cast<int>(
        Signed(At(rng[i], field, "rank"), Join(field, "rank"), 0, kMaxWorldSize - 1));
    if (m.rng_by_rank.count(rank) > 0) {
      Bad(Join(field, "rank"), "is " + std::to_string(rank) + ", which an earlier entry names too");
    }
    m.rng_by_rank[rank] = BuffersFrom(At(rng[i], field, "states"), Join(field, "states"));
  }
  return m;
}

json PieceToJson(const ManifestPiece& piece) {
  return json{{"file", piece.file},
              {"dataset", piece.dataset},
              {"offset", piece.offset},
              {"count", piece.count},
              {"byte_offset", piece.byte_offset}};
}

json BuffersToJson(const std::vector<ManifestBuffer>& buffers) {
  json out = json::array();
  for (const ManifestBuffer& buffer : buffers) {
    json j = PieceToJson(buffer.piece);
    j["name"] = buffer.name;
    out.push_back(std::move(j));
  }
  return out;
}

// Manifests nest five levels deep; anything deeper is not one (and deep nesting costs memory).
constexpr int kMaxDepth = 16;

}  // namespace

std::string ManifestToJson(const Manifest& m) {
  json files = json::array();
  for (const ManifestFile& f : m.files) {
    files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"crc32c", f.crc32c}});
  }
  json tensors = json::array();
  for (const ManifestTensor& t : m.tensors) {
    json pieces = json::array();
    for (const ManifestPiece& p : t.pieces) pieces.push_back(PieceToJson(p));
    tensors.push_back({{"name", t.name},
                       {"dtype", std::string(DTypeName(t.dtype))},
                       {"shape", t.shape},
                       {"replicated", t.replicated},
                       {"pieces", std::move(pieces)}});
  }
  json rng = json::array();
  for (const auto& [rank, states] : m.rng_by_rank) {
    rng.push_back({{"rank", rank}, {"states", BuffersToJson(states)}});
  }
  json optimizer = nullptr;
  if (m.optimizer_step >= 0) {
    optimizer = {{"step", m.optimizer_step}, {"buffers", BuffersToJson(m.optimizer_buffers)}};
  }
  json j = {{"format_version", m.format_version},
            {"step", m.step},
            {"job_id", m.job_id},
            {"world_size", m.world_size},
            {"library_version", m.library_version},
            {"created", m.created},
            {"files", std::move(files)},
            {"tensors", std::move(tensors)},
            {"sampler", m.sampler ? json(m.sampler->Serialize()) : json(nullptr)},
            {"metadata", m.metadata},
            {"optimizer", std::move(optimizer)},
            {"rng", std::move(rng)}};
  return j.dump(1) + "\n";
}

Result<Manifest> ParseManifest(const std::string& text, const std::string& where) {
  if (text.size() > kMaxManifestBytes) {
    return DataLossError("manifest " + where + " is " + std::to_string(text.size()) +
                         " bytes; at most " + std::to_string(kMaxManifestBytes) +
                         " are accepted: the checkpoint is damaged");
  }
  try {
    const json::parser_callback_t limit_depth = [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw FieldError{"nests deeper than any manifest does"};
      return true;
    };
    return FromJson(json::parse(text, limit_depth));
  } catch (const FieldError& e) {
    return DataLossError("manifest " + where + ": " + e.message + "; the checkpoint is damaged");
  } catch (const std::exception& e) {
    return DataLossError("unreadable manifest " + where + ": " + e.what() +
                         "; the checkpoint is damaged");
  }
}

std::string UtcNowIso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace train::internal
