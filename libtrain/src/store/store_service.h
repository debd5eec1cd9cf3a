// Executes store protocol requests against a StoreState: the HTTP-free half of the server.
#ifndef TRAIN_SRC_STORE_STORE_SERVICE_H_
#define TRAIN_SRC_STORE_STORE_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "store/store_protocol.h"
#include "store/store_state.h"

namespace train::internal {

// Sends the answer to one request: an HTTP status and a JSON body.
using StoreReplyFn = std::function<void(int http_status, std::string body)>;

// Answers `body` (the JSON of a request for `op`) from `state` by calling `reply` exactly once:
// right away, or, for get and wait, when the keys are set, the deadline (the request's timeout,
// at most kMaxServerWait) passes, or the state closes. `parked`, when given, receives the id
// of the waiter a get or wait left in the state (0 when none), for StoreState::CancelWatch.
void ServeStoreRequest(StoreState& state, StoreOp op, std::string_view body, StoreReplyFn reply,
                       std::uint64_t* parked = nullptr);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_STORE_SERVICE_H_
