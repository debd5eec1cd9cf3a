// etcd's v3 JSON gateway: the request bodies the etcd store sends and what it reads back.
//
// The gateway speaks protobuf's JSON mapping: bytes (keys, values) are base64, int64 fields
// are strings, and fields at their default value (0, false, PUT) are left out.
#ifndef TRAIN_SRC_STORE_ETCD_WIRE_H_
#define TRAIN_SRC_STORE_ETCD_WIRE_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace train::internal {

using Json = nlohmann::json;

struct EtcdKeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
};

// One change a watch reports.
struct EtcdEvent {
  bool deleted = false;  // DELETE (an expired lease too); else PUT
  EtcdKeyValue kv;
};

// An int64 field as the gateway writes it (a string, or a number), 0 when absent.
std::int64_t JsonInt64(const Json& object, std::string_view name);

// The end of the range of every key that starts with `prefix` (etcd's range_end); "\0" (every
// key) for an empty prefix.
std::string EtcdPrefixEnd(std::string_view prefix);

// Request pieces. `key` and values are raw bytes; they are base64-encoded here.
Json EtcdRange(std::string_view key, std::int64_t revision = 0);
Json EtcdRangePrefix(std::string_view prefix, bool keys_only);
Json EtcdPut(std::string_view key, std::string_view value, std::int64_t lease = 0,
             bool ignore_lease = false);
Json EtcdDeleteKey(std::string_view key);
// A txn compare: target "MOD", "CREATE", "VERSION" (an int64) or "VALUE" (bytes); result
// "EQUAL", "GREATER", "LESS", "NOT_EQUAL".
Json EtcdCompareInt(std::string_view key, std::string_view target, std::string_view result,
                    std::int64_t operand);
Json EtcdCompareValue(std::string_view key, std::string_view value);
Json EtcdTxn(Json compare, Json success, Json failure);
// A watch of [key, range_end) (range_end empty: the one key) from `start_revision` on.
Json EtcdWatchCreate(std::string_view key, std::string_view range_end, std::int64_t start_revision);

// The header's revision: the store's revision when the answer was made.
std::int64_t EtcdRevision(const Json& response);
// The key-values of a range response (kvs), decoded. DATA_LOSS on a malformed one.
Result<std::vector<EtcdKeyValue>> EtcdKvs(const Json& range_response);
// A txn response's responses[index] of kind `kind` ("response_range", ...).
Result<Json> EtcdTxnResponse(const Json& txn_response, std::size_t index, std::string_view kind);
// A watch message's events, decoded.
Result<std::vector<EtcdEvent>> EtcdEvents(const Json& watch_result);

// An error the gateway answered: {"error", "message", "code" (a gRPC code)}.
struct EtcdError {
  int code = 0;
  std::string message;
};
// The error in `body`, or nullopt when it is not one.
std::optional<EtcdError> EtcdErrorOf(std::string_view body);

// gRPC codes the store acts on.
inline constexpr int kGrpcInvalidArgument = 3;
inline constexpr int kGrpcNotFound = 5;
inline constexpr int kGrpcPermissionDenied = 7;
inline constexpr int kGrpcFailedPrecondition = 9;
inline constexpr int kGrpcUnavailable = 14;
inline constexpr int kGrpcUnauthenticated = 16;

// The train::Status of a gRPC code (UNKNOWN for codes without a match).
StatusCode StatusCodeOfGrpc(int code);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_ETCD_WIRE_H_
