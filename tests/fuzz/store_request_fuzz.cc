// Fuzz target: bytes as an HTTP request to the store. The head is parsed as the server parses
// it (ParseRequestHead, 16 KiB cap) and routed as it routes it (RouteStoreRequest: the token,
// the path, the method, the length). The bytes after the head, up to its Content-Length, are
// then served by ServeStoreRequest over an in-memory StoreState as the op the path names; when
// there is no routed op (no head, a refused one) the input is served as the body of every op
// in turn, so that each op's JSON decoding sees every input. Every request must be answered
// exactly once (parked long polls when the state goes away), with a status HTTP knows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../fake_clock.h"
#include "store/http_request.h"
#include "store/store_route.h"
#include "store/store_service.h"
#include "store/store_state.h"

namespace {

using train::internal::HttpHeadParse;
using train::internal::StoreOp;

constexpr char kToken[] = "fuzz-token";
constexpr std::size_t kMaxHead = 16 << 10;

constexpr StoreOp kOps[] = {StoreOp::kSet,      StoreOp::kGet,    StoreOp::kTryGet,
                            StoreOp::kMultiGet, StoreOp::kAdd,    StoreOp::kCompareSet,
                            StoreOp::kWait,     StoreOp::kDelete, StoreOp::kKeys};

train::StoreLimits Limits() {
  train::StoreLimits limits;
  limits.max_value_bytes = 4096;
  limits.max_keys = 64;
  limits.max_waiters = 16;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const train::StoreLimits limits = Limits();

  std::string_view body = input;
  std::vector<StoreOp> ops(std::begin(kOps), std::end(kOps));
  const HttpHeadParse parsed = train::internal::ParseRequestHead(input, kMaxHead);
  if (parsed.state == HttpHeadParse::State::kComplete) {
    if (parsed.head_bytes > input.size()) std::abort();
    body = input.substr(parsed.head_bytes);
    if (parsed.head.content_length) body = body.substr(0, *parsed.head.content_length);
    const train::internal::StoreRoute route =
        train::internal::RouteStoreRequest(parsed.head, kToken, limits);
    if (route.http_status == 200) ops = {route.op};
  } else if (parsed.state == HttpHeadParse::State::kError) {
    if (train::internal::HttpReason(parsed.error.status) == "Error") std::abort();
  } else if (input.size() >= kMaxHead) {
    std::abort();  // a head may not stay incomplete past its cap
  }

  auto answers = std::make_shared<int>(0);
  int asked = 0;
  {
    // A clock that never moves: parked long polls wait until the state goes away.
    train::testing::FakeClock clock;
    train::internal::StoreState state(limits, &clock);
    (void)state.Set("a", "1", train::kNoTtl);
    (void)state.Set("b", "x", train::kNoTtl);
    for (StoreOp op : ops) {
      ++asked;
      train::internal::ServeStoreRequest(state, op, body, [answers](int status, std::string) {
        if (train::internal::HttpReason(status) == "Error") std::abort();
        ++*answers;
      });
    }
  }
  if (*answers != asked) std::abort();  // a request answered twice, or never
  return 0;
}
