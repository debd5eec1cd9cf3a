// ConnectStore: a Store that talks to a StoreServer over HTTP (store/http_client_pool.h).
//
// Every transport failure stops here and becomes a Status. Each request has its own budget:
// request_timeout for an immediate op, request_timeout plus the wait for get and wait, so a
// long blocking Get is never cut short by the request timeout.
#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/http_client_pool.h"
#include "store/store_keys.h"
#include "store/store_protocol.h"
#include "store/token.h"
#include "train/store.h"

namespace train {
namespace {

using internal::StoreOp;
using internal::StoreReply;
using internal::StoreRequest;

struct Answer {
  int http_status = 0;
  std::string body;
};

// "set 'k'", "wait for 3 keys": what a message says was being done.
std::string Describe(StoreOp op, const StoreRequest& request) {
  std::string out(internal::StoreOpName(op));
  if (op == StoreOp::kKeys) return out + " with prefix " + internal::Quoted(request.prefix);
  if (request.keys.size() == 1) return out + " " + internal::Quoted(request.keys.front());
  return out + " for " + std::to_string(request.keys.size()) + " keys";
}

class HttpStore final : public Store {
 public:
  HttpStore(StoreAddress address, std::string token, const StoreClientOptions& options)
      : address_(std::move(address)),
        token_(std::move(token)),
        authorization_("Authorization: Bearer " + token_ + "\r\n"),
        request_timeout_(options.request_timeout),
        pool_(address_) {
    set_default_timeout(options.default_timeout);
  }

  Status Set(std::string_view key, std::string_view value, Milliseconds ttl) override {
    StoreRequest request = WithKey(key);
    request.value = std::string(value);
    request.ttl = ttl;
    return Call(StoreOp::kSet, request).status();
  }

  Status MultiSet(const std::vector<std::string>& keys,
                  const std::vector<std::string>& values) override {
    if (keys.size() != values.size()) {
      return InvalidArgumentError("MultiSet got " + std::to_string(keys.size()) + " keys and " +
                                  std::to_string(values.size()) + " values; they pair up");
    }
    StoreRequest request;
    request.keys = keys;
    request.values = values;
    return Call(StoreOp::kMultiSet, request).status();
  }

  Result<std::string> Get(std::string_view key, Milliseconds timeout) override {
    TRAIN_ASSIGN_OR_RETURN(StoreReply reply, CallWaiting(StoreOp::kGet, WithKey(key), timeout));
    return reply.value.value_or(std::string());
  }

  Result<std::optional<std::string>> TryGet(std::string_view key) override {
    TRAIN_ASSIGN_OR_RETURN(StoreReply reply, Call(StoreOp::kTryGet, WithKey(key)));
    return std::move(reply.value);
  }

  Result<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override {
    StoreRequest request;
    request.keys = keys;
    TRAIN_ASSIGN_OR_RETURN(StoreReply reply, Call(StoreOp::kMultiGet, request));
    if (reply.values.size() != keys.size()) {
      return DataLossError("the store answered " + std::to_string(reply.values.size()) +
                           " values for " + std::to_string(keys.size()) + " keys");
    }
    return std::move(reply.values);
  }

  Result<std::int64_t> Add(std::string_view key, std::int64_t delta) override {
    StoreRequest request = WithKey(key);
    request.delta = delta;
    TRAIN_ASSIGN_OR_RETURN(StoreReply reply, Call(StoreOp::kAdd, request));
    return reply.number;
  }

  Result<std::optional<std::string>> CompareSet(std::string_view key,
                                                std::optional<std::string_view> expected,
                                                std::string_view desired) override {
    StoreRequest request = WithKey(key);
    if (expected) request.expected = std::string(*expected);
    request.value = std::string(desired);
    TRAIN_ASSIGN_OR_RETURN(StoreReply reply, Call(StoreOp::kCompareSet, request));
    return std::move(reply.value);
  }

  Status Wait(const std::vector<std::string>& keys, Milliseconds timeout) override {
    StoreRequest request;
    request.keys = keys;
    return CallWaiting(StoreOp::kWait, std::move(request), timeout).status();
  }

  Result<bool> Delete(std::string_view key) override {
    TRAIN_ASSIGN_OR_RETURN(StoreReply reply, Call(StoreOp::kDelete, WithKey(key)));
    return reply.existed;
  }

  Result<std::vector<std::string>> Keys(std::string_view prefix) override {
    StoreRequest request;
    request.prefix = std::string(prefix);
    TRAIN_ASSIGN_OR_RETURN(StoreReply reply, Call(StoreOp::kKeys, request));
    return std::move(reply.keys);
  }

 private:
  static StoreRequest WithKey(std::string_view key) {
    StoreRequest request;
    request.keys.emplace_back(key);
    return request;
  }

  // Keys go into JSON, so they are checked here too (the server checks them again).
  static Status CheckKeys(StoreOp op, const StoreRequest& request) {
    for (const std::string& key : request.keys) TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    if (op == StoreOp::kKeys && !request.prefix.empty()) {
      TRAIN_RETURN_IF_ERROR(internal::ValidateKey(request.prefix).WithContext("prefix"));
    }
    return Status::Ok();
  }

  // An op the server answers at once.
  Result<StoreReply> Call(StoreOp op, const StoreRequest& request) {
    TRAIN_RETURN_IF_ERROR(CheckKeys(op, request));
    Result<Answer> answer = RoundTrip(op, request, request_timeout_);
    if (!answer.ok()) {
      if (answer.status().code() != StatusCode::kDeadlineExceeded) return answer.status();
      return UnavailableError(answer.status().message() +
                              " (StoreClientOptions.request_timeout): is its host up and "
                              "reachable from here?");
    }
    if (answer->http_status == 200) return Decode(op, *answer);
    return Failure(internal::DecodeError(answer->http_status, answer->body).status);
  }

  // get or wait: long polls of at most kMaxServerWait each until `timeout` has passed.
  Result<StoreReply> CallWaiting(StoreOp op, StoreRequest request, Milliseconds timeout) {
    TRAIN_RETURN_IF_ERROR(CheckKeys(op, request));
    timeout = std::clamp(timeout, Milliseconds(0), internal::kMaxStoreTimeout);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left =
          std::max(Milliseconds(0),
                   std::chrono::ceil<Milliseconds>(deadline - std::chrono::steady_clock::now()));
      request.timeout = std::min(left, internal::kMaxServerWait);
      Result<Answer> answer = RoundTrip(op, request, request_timeout_ + request.timeout);
      if (!answer.ok()) {
        if (answer.status().code() != StatusCode::kDeadlineExceeded) return answer.status();
        return DeadlineExceededError(
            internal::DeadlineMessage(request.keys, request.keys, timeout) + " (" +
            answer.status().message() + ")");
      }
      if (answer->http_status == 200) return Decode(op, *answer);
      internal::DecodedError error = internal::DecodeError(answer->http_status, answer->body);
      if (error.status.code() != StatusCode::kDeadlineExceeded) return Failure(error.status);
      // The server caps each poll at kMaxServerWait: ask again until our own deadline.
      if (std::chrono::steady_clock::now() < deadline) continue;
      return DeadlineExceededError(internal::DeadlineMessage(request.keys, error.missing, timeout));
    }
  }

  Result<StoreReply> Decode(StoreOp op, const Answer& answer) const {
    Result<StoreReply> reply = internal::DecodeReply(op, answer.body);
    if (!reply.ok()) {
      return UnknownError("the store at " + address_.ToString() +
                          " sent a malformed answer: " + reply.status().message());
    }
    return reply;
  }

  Status Failure(const Status& status) const {
    if (status.code() == StatusCode::kUnauthenticated) {
      return UnauthenticatedError("the store at " + address_.ToString() +
                                  " refused the token: check TRAIN_TOKEN_FILE (" +
                                  status.message() + ")");
    }
    return status;
  }

  // One HTTP exchange. Transport failures are UNAVAILABLE; no answer within `budget` is
  // DEADLINE_EXCEEDED (the callers reword it).
  Result<Answer> RoundTrip(StoreOp op, const StoreRequest& request, Milliseconds budget) {
    // A kept-alive connection that the server closed (it restarted) fails while the request
    // is written; cpprest retries that only when the failure shows up later, at the status
    // line. The server never saw the whole request, so sending it again is safe for any op.
    bool unsent = false;
    Result<Answer> answer = Exchange(op, request, budget, &unsent);
    if (!answer.ok() && unsent) answer = Exchange(op, request, budget, &unsent);
    return answer;
  }

  Result<Answer> Exchange(StoreOp op, const StoreRequest& request, Milliseconds budget,
                          bool* unsent) {
    const std::string what = Describe(op, request);
    const std::string where = address_.ToString();
    auto answer =
        pool_.Post(std::string(internal::kStorePathPrefix) + std::string(internal::StoreOpName(op)),
                   authorization_, internal::EncodeRequest(op, request),
                   std::chrono::steady_clock::now() + budget, unsent);
    if (answer.ok()) return Answer{answer->status, std::move(answer->body)};
    if (answer.status().code() == StatusCode::kDeadlineExceeded) {
      return DeadlineExceededError("the store at " + where + " did not answer " + what +
                                   " within " + std::to_string(budget.count()) + " ms");
    }
    return UnavailableError("cannot reach the store at " + where + " (" + what +
                            "): " + answer.status().message() +
                            "; is it running, and does TRAIN_STORE_ADDR name it?");
  }

  const StoreAddress address_;
  const std::string token_;
  const std::string authorization_;  // the header line that carries the token
  const Milliseconds request_timeout_;
  internal::HttpClientPool pool_;
};

}  // namespace

Result<std::unique_ptr<Store>> ConnectStore(const StoreAddress& address, std::string token,
                                            const StoreClientOptions& options) {
  if (address.host.empty() || address.port < 1 || address.port > 65535) {
    return InvalidArgumentError("the store address \"" + address.ToString() +
                                "\" needs a host and a port in [1, 65535]");
  }
  TRAIN_RETURN_IF_ERROR(internal::ValidateToken(token, "the store token"));
  if (options.request_timeout <= Milliseconds(0)) {
    return InvalidArgumentError("StoreClientOptions.request_timeout is " +
                                std::to_string(options.request_timeout.count()) +
                                " ms: it must be positive");
  }
  // The host goes into a request line: nothing that would end or split it.
  if (address.host.find_first_of(" \t\r\n/?#@") != std::string::npos) {
    return InvalidArgumentError("cannot use the store address \"" + address.ToString() +
                                "\": the host holds a space, a line break or one of / ? # @");
  }
  return std::unique_ptr<Store>(std::make_unique<HttpStore>(address, std::move(token), options));
}

}  // namespace train
