// Which requests reach the store, from their head alone: the token comes first, whatever the
// method, path or length, so a client without it learns nothing and sends no body.
#include "store/store_route.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace train::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "route-test-token";

HttpRequestHead Head(std::string method, std::string target, bool with_token,
                     std::optional<std::uint64_t> length = 10) {
  HttpRequestHead head;
  head.method = std::move(method);
  head.target = std::move(target);
  head.content_length = length;
  if (with_token) head.headers.emplace_back("Authorization", std::string("Bearer ") + kToken);
  return head;
}

int Status(const HttpRequestHead& head, const StoreLimits& limits = {}) {
  return RouteStoreRequest(head, kToken, limits).http_status;
}

TEST(StoreRoute, WithoutTheTokenEveryRequestIs401) {
  for (const char* method : {"POST", "GET", "TRACE", "OPTIONS", "DELETE", "CONNECT"}) {
    for (const char* target : {"/v1/set", "/", "*", "/v1/explode"}) {
      EXPECT_EQ(Status(Head(method, target, false)), 401) << method << " " << target;
    }
  }
  HttpRequestHead huge = Head("POST", "/v1/set", false, std::uint64_t{512} << 20);
  EXPECT_EQ(Status(huge), 401);
  huge.content_length.reset();
  huge.chunked = true;
  EXPECT_EQ(Status(huge), 401);

  HttpRequestHead wrong = Head("POST", "/v1/set", false);
  wrong.headers.emplace_back("Authorization", "Bearer route-test-tokem");
  StoreRoute route = RouteStoreRequest(wrong, kToken, {});
  EXPECT_EQ(route.http_status, 401);
  EXPECT_EQ(route.status.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(route.status.message(), Not(HasSubstr(kToken)));
}

TEST(StoreRoute, WithTheTokenPathsMethodsAndLengthsAreChecked) {
  EXPECT_EQ(Status(Head("POST", "/v1/explode", true)), 404);
  EXPECT_EQ(Status(Head("POST", "/v2/set", true)), 404);
  EXPECT_EQ(Status(Head("TRACE", "/v1/set", true)), 405);
  EXPECT_EQ(Status(Head("OPTIONS", "/v1/keys", true)), 405);
  HttpRequestHead chunked = Head("POST", "/v1/set", true, std::nullopt);
  chunked.chunked = true;
  EXPECT_EQ(Status(chunked), 411);
  EXPECT_EQ(Status(Head("POST", "/v1/set", true, std::nullopt)), 411);

  StoreLimits limits;
  limits.max_value_bytes = 1024;
  const std::uint64_t max = MaxRequestBytes(limits);
  EXPECT_EQ(Status(Head("POST", "/v1/set", true, max), limits), 200);
  StoreRoute over = RouteStoreRequest(Head("POST", "/v1/set", true, max + 1), kToken, limits);
  EXPECT_EQ(over.http_status, 413);
  EXPECT_THAT(over.status.message(), HasSubstr("StoreLimits.max_value_bytes = 1024"));
}

TEST(StoreRoute, AnAcceptedRequestNamesItsOp) {
  StoreRoute route = RouteStoreRequest(Head("POST", "/v1/cas?x=1", true), kToken, {});
  EXPECT_EQ(route.http_status, 200);
  EXPECT_EQ(route.op, StoreOp::kCompareSet);
  EXPECT_EQ(RouteStoreRequest(Head("POST", "/v1/wait", true, 0), kToken, {}).op, StoreOp::kWait);
}

}  // namespace
}  // namespace train::internal
