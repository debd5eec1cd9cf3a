#include "manifest.h"

#include <ctime>
#include <exception>
#include <nlohmann/json.hpp>

namespace train::internal {
namespace {

using nlohmann::json;

json PieceToJson(const ManifestPiece& piece) {
  return json{{"file", piece.file},
              {"dataset", piece.dataset},
              {"offset", piece.offset},
              {"count", piece.count},
              {"byte_offset", piece.byte_offset}};
}

ManifestPiece PieceFromJson(const json& j) {
  ManifestPiece piece;
  piece.file = j.at("file").get<std::string>();
  piece.dataset = j.at("dataset").get<std::string>();
  piece.offset = j.at("offset").get<std::uint64_t>();
  piece.count = j.at("count").get<std::uint64_t>();
  piece.byte_offset = j.at("byte_offset").get<std::uint64_t>();
  return piece;
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

std::vector<ManifestBuffer> BuffersFromJson(const json& j) {
  std::vector<ManifestBuffer> buffers;
  for (const json& item : j)
    buffers.push_back({item.at("name").get<std::string>(), PieceFromJson(item)});
  return buffers;
}

Manifest FromJson(const json& j) {
  Manifest m;
  m.format_version = j.at("format_version").get<int>();
  m.step = j.at("step").get<std::int64_t>();
  m.job_id = j.at("job_id").get<std::string>();
  m.world_size = j.at("world_size").get<int>();
  m.library_version = j.at("library_version").get<std::string>();
  m.created = j.at("created").get<std::string>();
  for (const json& f : j.at("files")) {
    m.files.push_back({f.at("name").get<std::string>(), f.at("bytes").get<std::uint64_t>(),
                       f.at("crc32c").get<std::uint32_t>()});
  }
  for (const json& t : j.at("tensors")) {
    ManifestTensor tensor;
    tensor.name = t.at("name").get<std::string>();
    Result<DType> dtype = ParseDType(t.at("dtype").get<std::string>());
    if (!dtype.ok()) throw std::runtime_error(dtype.status().message());
    tensor.dtype = *dtype;
    tensor.shape = t.at("shape").get<std::vector<std::uint64_t>>();
    tensor.replicated = t.at("replicated").get<bool>();
    for (const json& p : t.at("pieces")) tensor.pieces.push_back(PieceFromJson(p));
    m.tensors.push_back(std::move(tensor));
  }
  if (!j.at("sampler").is_null()) {
    Result<SamplerState> sampler = SamplerState::Parse(j.at("sampler").get<std::string>());
    if (!sampler.ok()) throw std::runtime_error(sampler.status().message());
    m.sampler = *sampler;
  }
  m.metadata = j.at("metadata").get<std::map<std::string, std::string>>();
  const json& optimizer = j.at("optimizer");
  if (!optimizer.is_null()) {
    m.optimizer_step = optimizer.at("step").get<std::int64_t>();
    m.optimizer_buffers = BuffersFromJson(optimizer.at("buffers"));
  }
  for (const json& r : j.at("rng")) {
    m.rng_by_rank[r.at("rank").get<int>()] = BuffersFromJson(r.at("states"));
  }
  return m;
}

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
  try {
    Manifest manifest = FromJson(json::parse(text));
    if (manifest.format_version != kManifestFormatVersion) {
      return DataLossError(where + " has format version " +
                           std::to_string(manifest.format_version) + "; this library reads " +
                           std::to_string(kManifestFormatVersion));
    }
    return manifest;
  } catch (const std::exception& e) {
    return DataLossError("unreadable manifest " + where + ": " + e.what());
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
