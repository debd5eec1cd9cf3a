// StoreServer: the store over HTTP, on the server of http_server.h.
//
// Handlers never block: get/wait requests are parked in the StoreState as callbacks that
// answer later, so thousands of long polls cost no thread each, and a parked request whose
// client disconnects is dropped from the state at once.
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "store/http_server.h"
#include "store/store_protocol.h"
#include "store/store_route.h"
#include "store/store_service.h"
#include "store/store_state.h"
#include "store/token.h"
#include "train/log.h"
#include "train/store.h"

namespace train {
namespace {

using internal::HttpError;
using internal::HttpRequestHead;
using internal::HttpRespondFn;

// How long Stop lets the answers to parked requests reach their clients before it closes
// the connections.
constexpr auto kReplyDrainTimeout = std::chrono::seconds(2);
// A client with the token whose request is refused from its head (a value over the limit)
// has its body read and dropped up to this much, so it hears why instead of a reset.
constexpr std::size_t kMaxDrainBytes = 64 << 20;
// Threads serving every connection: handlers only parse, look up and post, never wait.
constexpr int kServerThreads = 2;

// No more serving threads than CPUs this process may run on: two threads on one CPU only
// take turns, and each turn is a context switch (docs/benchmarks.md, "Answers in
// turns").
int ServerThreads() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0) return kServerThreads;
  return std::clamp(CPU_COUNT(&cpus), 1, kServerThreads);
}

// The code an error the server sends itself travels with, for the client's Status.
StatusCode CodeForHttpStatus(int status) {
  switch (status) {
    case 401:
      return StatusCode::kUnauthenticated;
    case 404:
      return StatusCode::kNotFound;
    case 500:
      return StatusCode::kInternal;
    case 408:
    case 503:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kInvalidArgument;
  }
}

class StoreHttpHandler final : public internal::HttpHandler {
 public:
  StoreHttpHandler(std::string token, const StoreLimits& limits)
      : token_(std::move(token)),
        limits_(limits),
        state_(std::make_shared<internal::StoreState>(limits)) {}

  internal::StoreState& state() { return *state_; }
  void set_stopping() { stopping_ = true; }

  std::optional<HttpError> CheckHead(const HttpRequestHead& head) override {
    if (stopping_) return HttpError{503, "the store is shutting down", 0};
    const internal::StoreRoute route = internal::RouteStoreRequest(head, token_, limits_);
    if (route.http_status == 200) return std::nullopt;
    const bool trusted = route.http_status != 401;
    const std::size_t drain = trusted ? static_cast<std::size_t>(std::min<std::uint64_t>(
                                            head.content_length.value_or(0), kMaxDrainBytes))
                                      : 0;
    return HttpError{route.http_status, route.status.message(), drain};
  }

  std::function<void()> Serve(const HttpRequestHead& head, std::string_view body,
                              HttpRespondFn respond) override {
    const internal::StoreRoute route = internal::RouteStoreRequest(head, token_, limits_);
    if (route.http_status != 200) {
      respond(route.http_status, internal::EncodeError(route.status));
      return nullptr;
    }
    std::uint64_t parked = 0;
    internal::ServeStoreRequest(*state_, route.op, body, std::move(respond), &parked);
    if (parked == 0) return nullptr;
    return [state = std::weak_ptr<internal::StoreState>(state_), parked] {
      if (auto alive = state.lock()) alive->CancelWatch(parked);
    };
  }

  std::string ErrorBody(int status, const std::string& message) override {
    return internal::EncodeError(Status(CodeForHttpStatus(status), message));
  }

 private:
  const std::string token_;
  const StoreLimits limits_;
  const std::shared_ptr<internal::StoreState> state_;
  std::atomic<bool> stopping_{false};
};

class HttpStoreServer final : public StoreServer {
 public:
  HttpStoreServer(std::shared_ptr<StoreHttpHandler> handler,
                  std::unique_ptr<internal::HttpServer> http, StoreAddress address)
      : handler_(std::move(handler)), http_(std::move(http)), address_(std::move(address)) {}

  ~HttpStoreServer() override { Stop(); }

  int port() const override { return address_.port; }
  StoreAddress address() const override { return address_; }

  void Stop() override {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    handler_->set_stopping();
    handler_->state().Close(UnavailableError("the store at " + address_.ToString() +
                                             " stopped while this request waited"));
    http_->Stop(std::chrono::duration_cast<Milliseconds>(kReplyDrainTimeout));
    LogDebug("store at " + address_.ToString() + " stopped");
  }

 private:
  const std::shared_ptr<StoreHttpHandler> handler_;
  const std::unique_ptr<internal::HttpServer> http_;
  const StoreAddress address_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

Status ValidateLimits(const StoreLimits& limits) {
  const auto refuse = [](const std::string& what) {
    return InvalidArgumentError("StoreLimits." + what +
                                ": raise it (docs/store.md lists the "
                                "defaults)");
  };
  if (limits.max_head_bytes < 1024) {
    return refuse("max_head_bytes is " + std::to_string(limits.max_head_bytes) +
                  ", under the 1024 bytes a request head needs");
  }
  if (limits.max_connections == 0) return refuse("max_connections is 0");
  if (limits.max_buffered_bytes < limits.max_head_bytes) {
    return refuse("max_buffered_bytes (" + std::to_string(limits.max_buffered_bytes) +
                  ") is under max_head_bytes (" + std::to_string(limits.max_head_bytes) + ")");
  }
  if (limits.read_timeout <= Milliseconds(0) || limits.idle_timeout <= Milliseconds(0)) {
    return refuse("read_timeout and idle_timeout must be positive");
  }
  return Status::Ok();
}

// Connections beyond what the process's open-file limit leaves room for would take the
// descriptors its other work needs (checkpoint files, workers' pipes).
std::size_t ConnectionsTheFileLimitAllows() {
  constexpr rlim_t kReserved = 1024;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<std::size_t>::max();
  }
  return limit.rlim_cur > 2 * kReserved ? static_cast<std::size_t>(limit.rlim_cur - kReserved)
                                        : static_cast<std::size_t>(limit.rlim_cur / 2);
}

}  // namespace

Result<std::unique_ptr<StoreServer>> StoreServer::Start(const StoreServerOptions& options) {
  TRAIN_RETURN_IF_ERROR(internal::ValidateToken(options.token, "the store server's token"));
  if (options.host.empty()) {
    return InvalidArgumentError(
        "the store server's host is empty: give an address of this "
        "machine (\"127.0.0.1\", or \"0.0.0.0\" for every interface)");
  }
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgumentError("the store server's port " + std::to_string(options.port) +
                                " is not in [0, 65535] (0 picks a free port)");
  }
  TRAIN_RETURN_IF_ERROR(ValidateLimits(options.limits));
  const StoreLimits& limits = options.limits;
  internal::HttpServerOptions http;
  http.host = options.host;
  http.port = options.port;
  http.max_head_bytes = limits.max_head_bytes;
  http.max_body_bytes = internal::MaxRequestBytes(limits);
  http.max_connections = std::min(limits.max_connections, ConnectionsTheFileLimitAllows());
  http.max_buffered_bytes = limits.max_buffered_bytes;
  http.read_timeout = limits.read_timeout;
  http.idle_timeout = limits.idle_timeout;
  http.threads = ServerThreads();
  auto handler = std::make_shared<StoreHttpHandler>(options.token, limits);
  bool in_use = false;
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<internal::HttpServer> server,
                         internal::HttpServer::Start(http, handler, &in_use));
  // One write can wake thousands of parked requests (a round's record): their answers take
  // turns with the other clients' requests instead of going ahead of all of them.
  handler->state().set_callback_runner(server->InTurns());
  const StoreAddress address{options.host, server->port()};
  LogDebug("store listening on " + address.ToString());
  return std::unique_ptr<StoreServer>(
      std::make_unique<HttpStoreServer>(std::move(handler), std::move(server), address));
}

}  // namespace train
