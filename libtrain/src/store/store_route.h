// Which HTTP requests may reach the store, decided from the request head alone: the token,
// the path, the method and the announced body length. The server asks this before it reads
// a byte of the body, so a client without the token costs it no more than its head.
#ifndef TRAIN_SRC_STORE_STORE_ROUTE_H_
#define TRAIN_SRC_STORE_STORE_ROUTE_H_

#include <string>
#include <string_view>

#include "store/http_request.h"
#include "store/store_protocol.h"
#include "train/status.h"
#include "train/store.h"

namespace train::internal {

struct StoreRoute {
  int http_status = 200;  // 200: read the body and serve `op`
  Status status;          // why not, when http_status is not 200
  StoreOp op = StoreOp::kSet;
};

// In this order: 401 without the token (whatever the method or path), 404 for a path that
// is no store op, 405 for a method other than POST, 411 without a Content-Length (chunked or
// none), 413 for a Content-Length over MaxRequestBytes(limits).
StoreRoute RouteStoreRequest(const HttpRequestHead& head, std::string_view token,
                             const StoreLimits& limits);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_STORE_ROUTE_H_
