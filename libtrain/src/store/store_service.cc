#include "store/store_service.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace train::internal {
namespace {

void ReplyError(const StoreReplyFn& reply, const Status& status,
                const std::vector<std::string>& missing = {}) {
  reply(HttpStatusFor(status.code()), EncodeError(status, missing));
}

// Runs the ops that answer at once; nullopt carries the error in `status`.
std::optional<StoreReply> RunNow(StoreState& state, StoreOp op, const StoreRequest& request,
                                 Status& status) {
  const std::string& key = request.keys.empty() ? std::string() : request.keys.front();
  StoreReply reply;
  switch (op) {
    case StoreOp::kSet:
      status = state.Set(key, request.value, request.ttl);
      break;
    case StoreOp::kMultiSet:
      status = state.MultiSet(request.keys, request.values);
      break;
    case StoreOp::kTryGet: {
      auto value = state.TryGet(key);
      if (!value.ok()) status = value.status();
      if (value.ok()) reply.value = std::move(value).value();
      break;
    }
    case StoreOp::kMultiGet: {
      auto values = state.MultiGet(request.keys);
      if (!values.ok()) status = values.status();
      if (values.ok()) reply.values = std::move(values).value();
      break;
    }
    case StoreOp::kAdd: {
      auto sum = state.Add(key, request.delta);
      if (!sum.ok()) status = sum.status();
      if (sum.ok()) reply.number = *sum;
      break;
    }
    case StoreOp::kCompareSet: {
      auto value = state.CompareSet(key, request.expected, request.value);
      if (!value.ok()) status = value.status();
      if (value.ok()) reply.value = std::move(value).value();
      break;
    }
    case StoreOp::kDelete: {
      auto existed = state.Delete(key);
      if (!existed.ok()) status = existed.status();
      if (existed.ok()) reply.existed = *existed;
      break;
    }
    case StoreOp::kKeys: {
      auto keys = state.Keys(request.prefix);
      if (!keys.ok()) status = keys.status();
      if (keys.ok()) reply.keys = std::move(keys).value();
      break;
    }
    case StoreOp::kGet:
    case StoreOp::kWait:
      status = InternalError("get and wait are not immediate ops");
      break;
  }
  if (!status.ok()) return std::nullopt;
  return reply;
}

}  // namespace

void ServeStoreRequest(StoreState& state, StoreOp op, std::string_view body, StoreReplyFn reply,
                       std::uint64_t* parked_id) {
  if (parked_id != nullptr) *parked_id = 0;
  Result<StoreRequest> request = DecodeRequest(op, body);
  if (!request.ok()) return ReplyError(reply, request.status());

  if (op != StoreOp::kGet && op != StoreOp::kWait) {
    Status status;
    std::optional<StoreReply> answer = RunNow(state, op, *request, status);
    if (!answer) return ReplyError(reply, status);
    return reply(200, EncodeReply(op, *answer));
  }

  // Long poll: the request is parked in the state and answered from its callback. The reply
  // function is shared because Watch either takes it or, on error, leaves it to us.
  auto shared_reply = std::make_shared<StoreReplyFn>(std::move(reply));
  const Milliseconds timeout = std::min(request->timeout, kMaxServerWait);
  Status parked = state.Watch(
      std::move(request->keys), timeout,
      [op, shared_reply](WaitOutcome outcome) {
        if (!outcome.status.ok()) return ReplyError(*shared_reply, outcome.status, outcome.missing);
        StoreReply answer;
        if (op == StoreOp::kGet) answer.value = std::move(outcome.value);
        (*shared_reply)(200, EncodeReply(op, answer));
      },
      parked_id);
  if (!parked.ok()) ReplyError(*shared_reply, parked);
}

}  // namespace train::internal
