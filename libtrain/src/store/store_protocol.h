// The store's wire protocol, shared by the server and the client.
//
// Every call is `POST /v1/<op>` with a JSON body and the header `Authorization: Bearer
// <token>`; ops are set, mset, get, tryget, mget, add, cas, wait, delete, keys. Values are bytes,
// so they travel base64-encoded. A success is HTTP 200 with a JSON body; a failure has the HTTP
// status of its code and the body {"code": "DEADLINE_EXCEEDED", "message": "...", "missing":
// [...]}. get and wait are long polls: the server parks them until their keys are set or their
// timeout (at most kMaxServerWait) passes.
#ifndef TRAIN_SRC_STORE_STORE_PROTOCOL_H_
#define TRAIN_SRC_STORE_STORE_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"
#include "train/store.h"

namespace train::internal {

enum class StoreOp {
  kSet,
  kMultiSet,
  kGet,
  kTryGet,
  kMultiGet,
  kAdd,
  kCompareSet,
  kWait,
  kDelete,
  kKeys
};

// The op's name in the path: "set", "mset", "get", "tryget", "mget", "add", "cas", "wait",
// "delete", "keys".
std::string_view StoreOpName(StoreOp op);
std::optional<StoreOp> ParseStoreOp(std::string_view name);

inline constexpr std::string_view kStorePathPrefix = "/v1/";

// The longest a server parks one request; a client that waits longer asks again, so that no
// proxy or socket idles for hours.
inline constexpr Milliseconds kMaxServerWait{std::chrono::minutes(5)};

struct StoreRequest {
  std::vector<std::string> keys;    // one key, except for wait, mget and mset (any number), keys
  std::string value;                // set: the value; cas: the desired value
  std::vector<std::string> values;  // mset: one per key
  std::optional<std::string> expected;  // cas: nullopt means "absent"
  std::int64_t delta = 0;               // add
  Milliseconds ttl{0};                  // set
  Milliseconds timeout{0};              // get, wait
  std::string prefix;                   // keys
};

struct StoreReply {
  std::optional<std::string> value;                // get, tryget, cas (nullopt: absent)
  std::int64_t number = 0;                         // add: the new value
  bool existed = false;                            // delete
  std::vector<std::string> keys;                   // keys
  std::vector<std::optional<std::string>> values;  // mget
};

std::string EncodeRequest(StoreOp op, const StoreRequest& request);
// INVALID_ARGUMENT naming the op and the field when the body is malformed.
Result<StoreRequest> DecodeRequest(StoreOp op, std::string_view body);

std::string EncodeReply(StoreOp op, const StoreReply& reply);
Result<StoreReply> DecodeReply(StoreOp op, std::string_view body);

// The HTTP status a failure travels with (400, 401, 408, 413, 429, 503, ...).
int HttpStatusFor(StatusCode code);
std::string EncodeError(const Status& status, const std::vector<std::string>& missing = {});

struct DecodedError {
  Status status;
  std::vector<std::string> missing;  // keys a deadline left unset
};
// Reads an error body; when it is not the store's (another server on that port), the HTTP
// status decides the code and the message shows the start of the body.
DecodedError DecodeError(int http_status, std::string_view body);

// The largest request body a server accepts: two values (cas) base64-encoded, plus room for
// the keys of a large wait.
std::size_t MaxRequestBytes(const StoreLimits& limits);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_STORE_PROTOCOL_H_
