#include "store/etcd_wire.h"

#include <charconv>
#include <utility>

#include "store/base64.h"

namespace train::internal {
namespace {

std::string B64(std::string_view bytes) { return Base64Encode(bytes); }

Result<std::string> Unbase64(const Json& object, std::string_view name) {
  const auto it = object.find(std::string(name));
  if (it == object.end()) return std::string();
  if (!it->is_string()) {
    return DataLossError("etcd sent a non-string \"" + std::string(name) + "\" field");
  }
  Result<std::string> bytes = Base64Decode(it->get_ref<const std::string&>());
  if (!bytes.ok()) {
    return DataLossError("etcd sent a \"" + std::string(name) +
                         "\" field that is not base64: " + bytes.status().message());
  }
  return bytes;
}

Result<EtcdKeyValue> DecodeKeyValue(const Json& kv) {
  if (!kv.is_object()) return DataLossError("etcd sent a key-value that is not an object");
  EtcdKeyValue out;
  TRAIN_ASSIGN_OR_RETURN(out.key, Unbase64(kv, "key"));
  TRAIN_ASSIGN_OR_RETURN(out.value, Unbase64(kv, "value"));
  out.create_revision = JsonInt64(kv, "create_revision");
  out.mod_revision = JsonInt64(kv, "mod_revision");
  out.version = JsonInt64(kv, "version");
  return out;
}

}  // namespace

std::int64_t JsonInt64(const Json& object, std::string_view name) {
  if (!object.is_object()) return 0;
  const auto it = object.find(std::string(name));
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (!it->is_string()) return 0;
  const std::string& text = it->get_ref<const std::string&>();
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() ? value : 0;
}

std::string EtcdPrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  // The smallest key greater than every key with the prefix: drop trailing 0xff bytes, then
  // increment the last byte.
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::string(1, '\0');
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

Json EtcdRange(std::string_view key, std::int64_t revision) {
  Json range = {{"key", B64(key)}};
  if (revision > 0) range["revision"] = std::to_string(revision);
  return range;
}

Json EtcdRangePrefix(std::string_view prefix, bool keys_only) {
  const std::string start = prefix.empty() ? std::string(1, '\0') : std::string(prefix);
  Json range = {{"key", B64(start)}, {"range_end", B64(EtcdPrefixEnd(prefix))}};
  if (keys_only) range["keys_only"] = true;
  return range;
}

Json EtcdPut(std::string_view key, std::string_view value, std::int64_t lease, bool ignore_lease) {
  Json put = {{"key", B64(key)}, {"value", B64(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  if (ignore_lease) put["ignore_lease"] = true;
  return put;
}

Json EtcdDeleteKey(std::string_view key) { return Json{{"key", B64(key)}}; }

Json EtcdCompareInt(std::string_view key, std::string_view target, std::string_view result,
                    std::int64_t operand) {
  // The operand's field is named after the target: mod_revision, create_revision, version.
  const char* field = target == "MOD"      ? "mod_revision"
                      : target == "CREATE" ? "create_revision"
                                           : "version";
  return Json{{"key", B64(key)},
              {"target", std::string(target)},
              {"result", std::string(result)},
              {field, std::to_string(operand)}};
}

Json EtcdCompareValue(std::string_view key, std::string_view value) {
  return Json{{"key", B64(key)}, {"target", "VALUE"}, {"result", "EQUAL"}, {"value", B64(value)}};
}

Json EtcdTxn(Json compare, Json success, Json failure) {
  return Json{{"compare", std::move(compare)},
              {"success", std::move(success)},
              {"failure", std::move(failure)}};
}

Json EtcdWatchCreate(std::string_view key, std::string_view range_end,
                     std::int64_t start_revision) {
  Json create = {{"key", B64(key)}, {"start_revision", std::to_string(start_revision)}};
  if (!range_end.empty()) create["range_end"] = B64(range_end);
  return Json{{"create_request", std::move(create)}};
}

std::int64_t EtcdRevision(const Json& response) {
  const auto header = response.find("header");
  return header == response.end() ? 0 : JsonInt64(*header, "revision");
}

Result<std::vector<EtcdKeyValue>> EtcdKvs(const Json& range_response) {
  std::vector<EtcdKeyValue> out;
  const auto kvs = range_response.find("kvs");
  if (kvs == range_response.end()) return out;
  if (!kvs->is_array()) return DataLossError("etcd sent \"kvs\" that is not an array");
  for (const Json& kv : *kvs) {
    TRAIN_ASSIGN_OR_RETURN(EtcdKeyValue decoded, DecodeKeyValue(kv));
    out.push_back(std::move(decoded));
  }
  return out;
}

Result<Json> EtcdTxnResponse(const Json& txn_response, std::size_t index, std::string_view kind) {
  const auto responses = txn_response.find("responses");
  if (responses == txn_response.end() || !responses->is_array() || responses->size() <= index ||
      !(*responses)[index].is_object()) {
    return DataLossError("etcd's txn answer has no response " + std::to_string(index));
  }
  const Json& response = (*responses)[index];
  const auto it = response.find(std::string(kind));
  // A response at all its defaults (an empty range) may be written as {}.
  if (it == response.end()) return Json::object();
  return *it;
}

Result<std::vector<EtcdEvent>> EtcdEvents(const Json& watch_result) {
  std::vector<EtcdEvent> out;
  const auto events = watch_result.find("events");
  if (events == watch_result.end()) return out;
  if (!events->is_array()) return DataLossError("etcd sent \"events\" that is not an array");
  for (const Json& event : *events) {
    EtcdEvent decoded;
    const auto type = event.find("type");
    decoded.deleted = type != event.end() && *type == "DELETE";
    const auto kv = event.find("kv");
    if (kv == event.end()) return DataLossError("etcd sent a watch event without a key");
    TRAIN_ASSIGN_OR_RETURN(decoded.kv, DecodeKeyValue(*kv));
    out.push_back(std::move(decoded));
  }
  return out;
}

std::optional<EtcdError> EtcdErrorOf(std::string_view body) {
  const Json parsed = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  const auto code = parsed.find("code");
  if (code == parsed.end() || !code->is_number_integer()) return std::nullopt;
  EtcdError error;
  error.code = code->get<int>();
  for (const char* field : {"message", "error"}) {
    const auto text = parsed.find(field);
    if (text != parsed.end() && text->is_string() && !text->get_ref<const std::string&>().empty()) {
      error.message = text->get<std::string>();
      break;
    }
  }
  return error;
}

StatusCode StatusCodeOfGrpc(int code) {
  if (code >= 1 && code <= 16 && code != 12) return static_cast<StatusCode>(code);
  return StatusCode::kUnknown;
}

}  // namespace train::internal
