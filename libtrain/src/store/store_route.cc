#include "store/store_route.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "store/token.h"

namespace train::internal {
namespace {

StoreRoute Refuse(int http_status, Status status) {
  StoreRoute route;
  route.http_status = http_status;
  route.status = std::move(status);
  return route;
}

// The token from "Authorization: Bearer <token>", checked in constant time.
Status Authenticate(const HttpRequestHead& head, std::string_view token) {
  const std::optional<std::string_view> header = head.Header("Authorization");
  if (!header) {
    return UnauthenticatedError(
        "the request has no \"Authorization: Bearer <token>\" header: every store request must "
        "carry the job's token");
  }
  constexpr std::string_view kScheme = "Bearer ";
  const bool bearer =
      header->size() >= kScheme.size() &&
      std::equal(kScheme.begin(), kScheme.end(), header->begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
      });
  if (!bearer || !ConstantTimeEquals(header->substr(kScheme.size()), token)) {
    return UnauthenticatedError("the request's token is not this store's");
  }
  return Status::Ok();
}

}  // namespace

StoreRoute RouteStoreRequest(const HttpRequestHead& head, std::string_view token,
                             const StoreLimits& limits) {
  if (Status auth = Authenticate(head, token); !auth.ok()) return Refuse(401, std::move(auth));
  const std::string_view path = std::string_view(head.target).substr(0, head.target.find('?'));
  std::optional<StoreOp> op;
  if (path.substr(0, kStorePathPrefix.size()) == kStorePathPrefix) {
    op = ParseStoreOp(path.substr(kStorePathPrefix.size()));
  }
  // Paths and methods are shown only after the token matched, and cut short.
  const std::string shown_path(path.substr(0, 100));
  if (!op) {
    return Refuse(404, NotFoundError("no store operation at \"" + shown_path +
                                     "\": use POST /v1/{set,get,tryget,mget,add,cas,wait,"
                                     "delete,keys}"));
  }
  if (head.method != "POST") {
    return Refuse(
        405, InvalidArgumentError("store operations take POST, not " + head.method.substr(0, 20)));
  }
  if (head.chunked || !head.content_length) {
    return Refuse(411, InvalidArgumentError("the request has no Content-Length (chunked bodies "
                                            "are refused): send the body's length"));
  }
  const std::size_t max_bytes = MaxRequestBytes(limits);
  const std::uint64_t length = head.content_length.value_or(0);
  if (length > max_bytes) {
    return Refuse(
        413, InvalidArgumentError("the request body is " + std::to_string(length) +
                                  " bytes, over the store's limit of " + std::to_string(max_bytes) +
                                  " bytes (from StoreLimits.max_value_bytes = " +
                                  std::to_string(limits.max_value_bytes) +
                                  "): keep large data out of the store"));
  }
  StoreRoute route;
  route.op = *op;
  return route;
}

}  // namespace train::internal
