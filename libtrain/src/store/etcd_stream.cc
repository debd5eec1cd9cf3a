#include "store/etcd_stream.h"

#include <cpprest/containerstream.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

namespace train::internal {
namespace {

namespace http = web::http;

// Where the calling thread waits for cpprest's continuation.
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<EtcdAnswer>> result;
};

http::http_request Post(std::string_view path, const std::string& body, const std::string& token) {
  http::http_request message(http::methods::POST);
  message.set_request_uri(std::string(path));
  // etcd reads the token from the Authorization header as is (no "Bearer").
  if (!token.empty()) message.headers().add("Authorization", token);
  message.set_body(body, "application/json");
  return message;
}

// What a canceled watch's reason says, as a gRPC code.
int CodeOfCancelReason(const std::string& reason) {
  if (reason.find("PermissionDenied") != std::string::npos ||
      reason.find("permission denied") != std::string::npos) {
    return kGrpcPermissionDenied;
  }
  if (reason.find("auth token") != std::string::npos ||
      reason.find("Unauthenticated") != std::string::npos) {
    return kGrpcUnauthenticated;
  }
  return kGrpcUnavailable;  // compacted, member stopping: watch again from a fresh read
}

}  // namespace

struct EtcdStream::State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  std::optional<Status> ended;  // why no more lines will come
  bool refused = false;         // the one line is an error body, not a watch message
  std::atomic<bool> closing{false};
  pplx::cancellation_token_source cancel;

  void Push(std::string line, bool is_refusal = false) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(std::move(line));
    refused = refused || is_refusal;
    cv.notify_all();
  }
  void End(Status why) {
    std::lock_guard<std::mutex> lock(mu);
    if (!ended) ended = std::move(why);
    cv.notify_all();
  }
};

namespace {

// Reads `body` line by line into `state` until it ends, fails, or the stream is closed. Every
// chain ends in a continuation that observes its task: an unobserved exception would abort.
void ReadLines(std::shared_ptr<EtcdStream::State> state, concurrency::streams::istream body,
               std::string url) {
  auto line = std::make_shared<concurrency::streams::container_buffer<std::string>>();
  body.read_line(*line).then([state, body, line, url](pplx::task<std::size_t> read) {
    try {
      read.get();
    } catch (const std::exception& e) {
      state->End(UnavailableError("the watch stream from " + url + " broke: " + e.what()));
      return;
    }
    std::string text = std::move(line->collection());
    if (text.empty() && body.is_eof()) {
      state->End(UnavailableError("the watch stream from " + url + " ended"));
      return;
    }
    if (!text.empty()) state->Push(std::move(text));
    if (!state->closing) ReadLines(state, body, url);
  });
}

}  // namespace

Result<EtcdAnswer> EtcdExchange(http::client::http_client& client, const std::string& url,
                                std::string_view path, const std::string& body,
                                const std::string& token, Milliseconds budget) {
  auto pending = std::make_shared<Pending>();
  pplx::cancellation_token_source cancel;
  const std::string what = std::string(path) + " at " + url;
  try {
    client.request(Post(path, body, token), cancel.get_token())
        .then([](http::http_response response) {
          const int status = response.status_code();
          return response.extract_vector().then([status](std::vector<unsigned char> bytes) {
            return EtcdAnswer{status, std::string(bytes.begin(), bytes.end())};
          });
        })
        .then([pending, what](pplx::task<EtcdAnswer> task) {
          std::optional<Result<EtcdAnswer>> result;
          try {
            result.emplace(task.get());
          } catch (const pplx::task_canceled&) {
            result.emplace(CancelledError(what + " was cancelled"));
          } catch (const std::exception& e) {
            result.emplace(UnavailableError("cannot reach " + what + ": " + e.what()));
          } catch (...) {
            result.emplace(UnavailableError("cannot reach " + what));
          }
          std::lock_guard<std::mutex> lock(pending->mu);
          pending->result = std::move(result);
          pending->cv.notify_all();
        });
  } catch (const std::exception& e) {
    return UnavailableError("cannot send " + what + ": " + e.what());
  }
  std::unique_lock<std::mutex> lock(pending->mu);
  if (!pending->cv.wait_for(lock, budget, [&] { return pending->result.has_value(); })) {
    lock.unlock();
    cancel.cancel();
    return DeadlineExceededError(url + " did not answer " + std::string(path) + " within " +
                                 std::to_string(budget.count()) + " ms");
  }
  return std::move(*pending->result);
}

std::unique_ptr<EtcdStream> OpenEtcdStream(http::client::http_client& client,
                                           const std::string& url, const std::string& body,
                                           const std::string& token) {
  auto state = std::make_shared<EtcdStream::State>();
  try {
    client.request(Post("/v3/watch", body, token), state->cancel.get_token())
        .then([state, url](http::http_response response) -> pplx::task<void> {
          if (response.status_code() == 200) {
            ReadLines(state, response.body(), url);
            return pplx::task_from_result();
          }
          const int status = response.status_code();
          return response.extract_string().then([state, url, status](std::string text) {
            state->Push(std::move(text), /*is_refusal=*/true);
            state->End(
                UnavailableError(url + " answered the watch with HTTP " + std::to_string(status)));
          });
        })
        .then([state, url](pplx::task<void> task) {
          try {
            task.get();
          } catch (const std::exception& e) {
            state->End(UnavailableError("cannot watch at " + url + ": " + e.what()));
          } catch (...) {
            state->End(UnavailableError("cannot watch at " + url));
          }
        });
  } catch (const std::exception& e) {
    state->End(UnavailableError("cannot watch at " + url + ": " + e.what()));
  }
  return std::make_unique<EtcdStream>(state, url);
}

EtcdStream::EtcdStream(std::shared_ptr<State> state, std::string url)
    : state_(std::move(state)), url_(std::move(url)) {}

EtcdStream::~EtcdStream() {
  state_->closing = true;
  state_->cancel.cancel();
}

Result<std::optional<Json>> EtcdStream::Next(SteadyTime deadline) {
  std::string line;
  bool refused = false;
  {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait_until(lock, deadline,
                          [&] { return !state_->lines.empty() || state_->ended.has_value(); });
    if (state_->lines.empty()) {
      if (state_->ended) return *state_->ended;
      return std::optional<Json>();
    }
    line = std::move(state_->lines.front());
    state_->lines.pop_front();
    refused = state_->refused;
  }
  if (refused) {
    refusal_ = EtcdErrorOf(line).value_or(EtcdError{kGrpcUnavailable, line});
    return UnavailableError(url_ + " refused the watch: " + refusal_->message);
  }
  Json message = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) {
    return UnavailableError(url_ + " sent a watch message that is not JSON: " + line);
  }
  // A stream's error: {"error": {"grpc_code", "message", ...}}.
  if (const auto error = message.find("error"); error != message.end()) {
    EtcdError refusal{static_cast<int>(JsonInt64(*error, "grpc_code")), ""};
    if (const auto text = error->find("message"); text != error->end() && text->is_string()) {
      refusal.message = text->get<std::string>();
    }
    if (refusal.code == 0) refusal.code = kGrpcUnavailable;
    refusal_ = refusal;
    return UnavailableError(url_ + " ended the watch: " + refusal.message);
  }
  const auto result = message.find("result");
  if (result == message.end() || !result->is_object()) {
    return UnavailableError(url_ + " sent a watch message without a result: " + line);
  }
  if (const auto canceled = result->find("canceled");
      canceled != result->end() && *canceled == true) {
    std::string reason;
    if (const auto why = result->find("cancel_reason"); why != result->end() && why->is_string()) {
      reason = why->get<std::string>();
    }
    refusal_ = EtcdError{CodeOfCancelReason(reason), reason.empty() ? "canceled" : reason};
    return UnavailableError(url_ + " canceled the watch: " + refusal_->message);
  }
  return std::optional<Json>(std::move(*result));
}

}  // namespace train::internal
