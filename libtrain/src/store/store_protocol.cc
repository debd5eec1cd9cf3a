#include "store/store_protocol.h"

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "store/base64.h"

namespace train::internal {
namespace {

using Json = nlohmann::json;

constexpr std::array<std::pair<StoreOp, std::string_view>, 10> kOpNames = {{
    {StoreOp::kSet, "set"},
    {StoreOp::kMultiSet, "mset"},
    {StoreOp::kGet, "get"},
    {StoreOp::kTryGet, "tryget"},
    {StoreOp::kMultiGet, "mget"},
    {StoreOp::kAdd, "add"},
    {StoreOp::kCompareSet, "cas"},
    {StoreOp::kWait, "wait"},
    {StoreOp::kDelete, "delete"},
    {StoreOp::kKeys, "keys"},
}};

// Invalid UTF-8 cannot reach dump() (keys are ASCII, values base64), but replace rather than
// throw if it ever does.
std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Reads fields of a parsed body; the first problem is kept and names the op and the field.
class Fields {
 public:
  Fields(StoreOp op, std::string_view what, std::string_view body)
      : op_(op), what_(what), json_(Json::parse(body, nullptr, /*allow_exceptions=*/false)) {
    if (!json_.is_object()) Fail("is not a JSON object");
  }

  const Status& status() const { return status_; }

  std::string String(const char* name) {
    const Json* field = Find(name);
    if (field == nullptr) return {};
    if (!field->is_string()) {
      Fail(std::string("field \"") + name + "\" is not a string");
      return {};
    }
    return field->get<std::string>();
  }

  std::optional<std::string> Bytes(const char* name, bool nullable) {
    const Json* field = Find(name);
    if (field == nullptr || (nullable && field->is_null())) return std::nullopt;
    if (!field->is_string()) {
      Fail(std::string("field \"") + name + "\" is not a base64 string");
      return std::nullopt;
    }
    Result<std::string> bytes = Base64Decode(field->get_ref<const std::string&>());
    if (!bytes.ok()) {
      Fail(std::string("field \"") + name + "\": " + bytes.status().message());
      return std::nullopt;
    }
    return std::move(bytes).value();
  }

  std::int64_t Integer(const char* name, bool non_negative) {
    const Json* field = Find(name);
    if (field == nullptr) return 0;
    const bool fits =
        field->is_number_unsigned()
            ? field->get<std::uint64_t>() <= std::uint64_t{INT64_MAX}
            : field->is_number_integer() && (!non_negative || field->get<std::int64_t>() >= 0);
    if (!fits) {
      Fail(std::string("field \"") + name + "\" is not " +
           (non_negative ? "a non-negative int64" : "an int64"));
      return 0;
    }
    return field->get<std::int64_t>();
  }

  bool Boolean(const char* name) {
    const Json* field = Find(name);
    if (field == nullptr) return false;
    if (!field->is_boolean()) Fail(std::string("field \"") + name + "\" is not a boolean");
    return field->is_boolean() && field->get<bool>();
  }

  std::vector<std::string> Strings(const char* name) {
    std::vector<std::string> out;
    const Json* field = Find(name);
    if (field == nullptr) return out;
    if (!field->is_array()) {
      Fail(std::string("field \"") + name + "\" is not a list");
      return out;
    }
    for (const Json& item : *field) {
      if (!item.is_string()) {
        Fail(std::string("field \"") + name + "\" holds something other than strings");
        return {};
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // A list whose items are base64 strings or null.
  std::vector<std::optional<std::string>> NullableBytesList(const char* name) {
    std::vector<std::optional<std::string>> out;
    const Json* field = Find(name);
    if (field == nullptr) return out;
    if (!field->is_array()) {
      Fail(std::string("field \"") + name + "\" is not a list");
      return out;
    }
    for (const Json& item : *field) {
      if (item.is_null()) {
        out.push_back(std::nullopt);
        continue;
      }
      Result<std::string> bytes =
          item.is_string() ? Base64Decode(item.get_ref<const std::string&>())
                           : Result<std::string>(InvalidArgumentError("not a base64 string"));
      if (!bytes.ok()) {
        Fail(std::string("field \"") + name + "\": " + bytes.status().message());
        return {};
      }
      out.push_back(std::move(bytes).value());
    }
    return out;
  }

 private:
  const Json* Find(const char* name) {
    if (!status_.ok()) return nullptr;
    auto it = json_.find(name);
    if (it == json_.end()) {
      Fail(std::string("field \"") + name + "\" is missing");
      return nullptr;
    }
    return &*it;
  }

  void Fail(const std::string& problem) {
    if (status_.ok()) {
      status_ = InvalidArgumentError("the " + std::string(what_) + " of store op '" +
                                     std::string(StoreOpName(op_)) + "' " + problem);
    }
  }

  StoreOp op_;
  std::string_view what_;
  Json json_;
  Status status_;
};

Json BytesOrNull(const std::optional<std::string>& bytes) {
  return bytes ? Json(Base64Encode(*bytes)) : Json(nullptr);
}

std::optional<StatusCode> ParseStatusCode(std::string_view name) {
  for (int code = 0; code <= static_cast<int>(StatusCode::kUnauthenticated); ++code) {
    if (StatusCodeName(static_cast<StatusCode>(code)) == name) {
      return static_cast<StatusCode>(code);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view StoreOpName(StoreOp op) {
  for (const auto& [known, name] : kOpNames) {
    if (known == op) return name;
  }
  return "unknown";
}

std::optional<StoreOp> ParseStoreOp(std::string_view name) {
  for (const auto& [op, known] : kOpNames) {
    if (known == name) return op;
  }
  return std::nullopt;
}

std::string EncodeRequest(StoreOp op, const StoreRequest& request) {
  Json json = Json::object();
  if (op == StoreOp::kWait || op == StoreOp::kMultiGet || op == StoreOp::kMultiSet) {
    json["keys"] = request.keys;
  } else if (op == StoreOp::kKeys) {
    json["prefix"] = request.prefix;
  } else {
    json["key"] = request.keys.empty() ? std::string() : request.keys.front();
  }
  switch (op) {
    case StoreOp::kSet:
      json["value"] = Base64Encode(request.value);
      json["ttl_ms"] = request.ttl.count();
      break;
    case StoreOp::kMultiSet: {
      Json values = Json::array();
      for (const std::string& value : request.values) values.push_back(Base64Encode(value));
      json["values"] = std::move(values);
      break;
    }
    case StoreOp::kGet:
    case StoreOp::kWait:
      json["timeout_ms"] = request.timeout.count();
      break;
    case StoreOp::kAdd:
      json["delta"] = request.delta;
      break;
    case StoreOp::kCompareSet:
      json["expected"] = BytesOrNull(request.expected);
      json["desired"] = Base64Encode(request.value);
      break;
    case StoreOp::kTryGet:
    case StoreOp::kMultiGet:
    case StoreOp::kDelete:
    case StoreOp::kKeys:
      break;
  }
  return Dump(json);
}

Result<StoreRequest> DecodeRequest(StoreOp op, std::string_view body) {
  Fields fields(op, "request", body);
  StoreRequest request;
  if (op == StoreOp::kWait || op == StoreOp::kMultiGet || op == StoreOp::kMultiSet) {
    request.keys = fields.Strings("keys");
  } else if (op == StoreOp::kKeys) {
    request.prefix = fields.String("prefix");
  } else {
    request.keys.push_back(fields.String("key"));
  }
  switch (op) {
    case StoreOp::kSet:
      request.value = fields.Bytes("value", /*nullable=*/false).value_or("");
      request.ttl = Milliseconds(fields.Integer("ttl_ms", /*non_negative=*/true));
      break;
    case StoreOp::kMultiSet:
      for (auto& value : fields.NullableBytesList("values")) {
        if (!value) return InvalidArgumentError("the request of store op 'mset' has a null value");
        request.values.push_back(std::move(*value));
      }
      break;
    case StoreOp::kGet:
    case StoreOp::kWait:
      request.timeout = Milliseconds(fields.Integer("timeout_ms", /*non_negative=*/true));
      break;
    case StoreOp::kAdd:
      request.delta = fields.Integer("delta", /*non_negative=*/false);
      break;
    case StoreOp::kCompareSet:
      request.expected = fields.Bytes("expected", /*nullable=*/true);
      request.value = fields.Bytes("desired", /*nullable=*/false).value_or("");
      break;
    case StoreOp::kTryGet:
    case StoreOp::kMultiGet:
    case StoreOp::kDelete:
    case StoreOp::kKeys:
      break;
  }
  TRAIN_RETURN_IF_ERROR(fields.status());
  return request;
}

std::string EncodeReply(StoreOp op, const StoreReply& reply) {
  Json json = Json::object();
  switch (op) {
    case StoreOp::kGet:
    case StoreOp::kTryGet:
    case StoreOp::kCompareSet:
      json["value"] = BytesOrNull(reply.value);
      break;
    case StoreOp::kAdd:
      json["value"] = reply.number;
      break;
    case StoreOp::kDelete:
      json["existed"] = reply.existed;
      break;
    case StoreOp::kKeys:
      json["keys"] = reply.keys;
      break;
    case StoreOp::kMultiGet: {
      Json values = Json::array();
      for (const auto& value : reply.values) values.push_back(BytesOrNull(value));
      json["values"] = std::move(values);
      break;
    }
    case StoreOp::kSet:
    case StoreOp::kMultiSet:
    case StoreOp::kWait:
      break;
  }
  return Dump(json);
}

Result<StoreReply> DecodeReply(StoreOp op, std::string_view body) {
  Fields fields(op, "reply", body);
  StoreReply reply;
  switch (op) {
    case StoreOp::kGet:
    case StoreOp::kTryGet:
    case StoreOp::kCompareSet:
      reply.value = fields.Bytes("value", /*nullable=*/true);
      break;
    case StoreOp::kAdd:
      reply.number = fields.Integer("value", /*non_negative=*/false);
      break;
    case StoreOp::kDelete:
      reply.existed = fields.Boolean("existed");
      break;
    case StoreOp::kKeys:
      reply.keys = fields.Strings("keys");
      break;
    case StoreOp::kMultiGet:
      reply.values = fields.NullableBytesList("values");
      break;
    case StoreOp::kSet:
    case StoreOp::kMultiSet:
    case StoreOp::kWait:
      break;
  }
  TRAIN_RETURN_IF_ERROR(fields.status());
  return reply;
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kDeadlineExceeded:
      return 408;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 412;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
    case StatusCode::kCancelled:
      return 503;
    default:
      return 500;
  }
}

std::string EncodeError(const Status& status, const std::vector<std::string>& missing) {
  Json json = {{"code", std::string(StatusCodeName(status.code()))}, {"message", status.message()}};
  if (!missing.empty()) json["missing"] = missing;
  return Dump(json);
}

DecodedError DecodeError(int http_status, std::string_view body) {
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && json.contains("code") && json["code"].is_string() &&
      json.contains("message") && json["message"].is_string()) {
    const std::optional<StatusCode> code = ParseStatusCode(json["code"].get<std::string>());
    if (code && *code != StatusCode::kOk) {
      DecodedError decoded{Status(*code, json["message"].get<std::string>()), {}};
      if (json.contains("missing") && json["missing"].is_array()) {
        for (const Json& key : json["missing"]) {
          if (key.is_string()) decoded.missing.push_back(key.get<std::string>());
        }
      }
      return decoded;
    }
  }
  // Not a store's answer: say what came back.
  std::string shown(body.substr(0, 200));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = ' ';
  }
  const std::string message = "HTTP " + std::to_string(http_status) +
                              (shown.empty() ? std::string() : " \"" + shown + "\"");
  switch (http_status) {
    case 401:
      return {UnauthenticatedError(message), {}};
    case 413:
      return {InvalidArgumentError(message), {}};
    case 503:
      return {UnavailableError(message), {}};
    default:
      return {UnknownError(message + " (is this address a train store?)"), {}};
  }
}

std::size_t MaxRequestBytes(const StoreLimits& limits) {
  constexpr std::size_t kRoomForKeys = 1 << 20;
  return 2 * ((limits.max_value_bytes + 2) / 3 * 4) + kRoomForKeys;
}

}  // namespace train::internal
