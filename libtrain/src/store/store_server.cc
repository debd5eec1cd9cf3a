// StoreServer: the store over HTTP (cpprestsdk's http_listener).
//
// Handlers never block: a request's body is read by a continuation, and get/wait requests are
// parked in the StoreState as callbacks that reply later, so thousands of long polls cost no
// thread each.
#define _TURN_OFF_PLATFORM_STRING  // cpprest's U() macro breaks fmt (see TOOLCHAIN.md)
#include <cpprest/http_listener.h>

#include <algorithm>
#include <atomic>
#include <boost/system/system_error.hpp>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/free_port.h"
#include "store/store_protocol.h"
#include "store/store_service.h"
#include "store/store_state.h"
#include "store/token.h"
#include "train/log.h"
#include "train/store.h"

namespace train {
namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;
using internal::EncodeError;

// A port picked by PickFreePort may be taken before we bind it; try a few.
constexpr int kFreePortAttempts = 8;
// How long Stop lets the answers to parked requests reach their clients before it closes
// the connections.
constexpr auto kReplyDrainTimeout = std::chrono::seconds(2);

// What handlers share with the server. Continuations hold it, so a reply that comes after
// Stop still finds it alive.
struct ServerCore {
  ServerCore(std::string token_in, const StoreLimits& limits_in, std::string address_in)
      : token(std::move(token_in)),
        limits(limits_in),
        address(std::move(address_in)),
        state(std::make_shared<internal::StoreState>(limits_in)) {}

  const std::string token;
  const StoreLimits limits;
  const std::string address;  // for messages
  const std::shared_ptr<internal::StoreState> state;
  std::atomic<bool> stopping{false};

  // Replies handed to cpprest and not yet written, so Stop can let them drain.
  std::mutex mu;
  std::condition_variable drained;
  int replies_in_flight = 0;
};

// cpprest keeps one listener per host:port for the whole process, and registering an address
// that this process already serves breaks the first server; so servers reserve their address
// here before they open it.
class AddressRegistry {
 public:
  static bool Reserve(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu());
    return held().insert(address).second;
  }
  static void Release(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu());
    held().erase(address);
  }

 private:
  static std::mutex& mu() {
    static std::mutex mu;
    return mu;
  }
  static std::set<std::string>& held() {
    static std::set<std::string> held;
    return held;
  }
};

void Reply(const std::shared_ptr<ServerCore>& core, const http::http_request& request, int status,
           std::string body) {
  http::http_response response(static_cast<http::status_code>(status));
  if (status == 401) response.headers().add("WWW-Authenticate", "Bearer");
  response.set_body(std::move(body), "application/json");
  {
    std::lock_guard<std::mutex> lock(core->mu);
    ++core->replies_in_flight;
  }
  auto done = [core] {
    std::lock_guard<std::mutex> lock(core->mu);
    if (--core->replies_in_flight == 0) core->drained.notify_all();
  };
  try {
    request.reply(response).then([done](pplx::task<void> sent) {
      try {
        sent.get();
      } catch (...) {
        // The client went away; there is no one left to tell.
      }
      done();
    });
  } catch (...) {
    done();  // already answered (the listener closed the connection)
  }
}

void ReplyError(const std::shared_ptr<ServerCore>& core, const http::http_request& request,
                int http_status, const Status& status) {
  Reply(core, request, http_status, EncodeError(status));
}

// The token from "Authorization: Bearer <token>", checked in constant time.
Status Authenticate(const ServerCore& core, const http::http_request& request) {
  std::string header;
  if (!request.headers().match("Authorization", header)) {
    return UnauthenticatedError(
        "the request has no \"Authorization: Bearer <token>\" header: every store request must "
        "carry the job's token");
  }
  constexpr std::string_view kScheme = "Bearer ";
  const bool bearer =
      header.size() >= kScheme.size() &&
      std::equal(kScheme.begin(), kScheme.end(), header.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
      });
  if (!bearer ||
      !internal::ConstantTimeEquals(std::string_view(header).substr(kScheme.size()), core.token)) {
    return UnauthenticatedError("the request's token is not this store's");
  }
  return Status::Ok();
}

void Handle(const std::shared_ptr<ServerCore>& core, const http::http_request& request) {
  if (core->stopping) {
    return ReplyError(core, request, 503,
                      UnavailableError("the store at " + core->address + " is shutting down"));
  }
  if (Status auth = Authenticate(*core, request); !auth.ok()) {
    return ReplyError(core, request, 401, auth);
  }
  const std::string path = request.relative_uri().path();
  std::optional<internal::StoreOp> op;
  if (path.rfind(internal::kStorePathPrefix, 0) == 0) {
    op = internal::ParseStoreOp(std::string_view(path).substr(internal::kStorePathPrefix.size()));
  }
  if (!op) {
    return ReplyError(core, request, 404,
                      NotFoundError("no store operation at \"" + path +
                                    "\": use POST /v1/{set,get,tryget,add,cas,wait,delete,keys}"));
  }
  if (request.method() != http::methods::POST) {
    return ReplyError(core, request, 405,
                      InvalidArgumentError("store operations take POST, not " + request.method()));
  }
  const std::size_t max_bytes = internal::MaxRequestBytes(core->limits);
  const auto too_large = [core, max_bytes](std::uint64_t bytes) {
    return InvalidArgumentError(
        "the request body is " + std::to_string(bytes) + " bytes, over the store's limit of " +
        std::to_string(max_bytes) + " bytes (from StoreLimits.max_value_bytes = " +
        std::to_string(core->limits.max_value_bytes) + "): keep large data out of the store");
  };
  if (request.headers().content_length() > max_bytes) {
    return ReplyError(core, request, 413, too_large(request.headers().content_length()));
  }

  request.extract_vector().then(
      [core, request, op = *op, max_bytes, too_large](pplx::task<std::vector<unsigned char>> read) {
        try {
          const std::vector<unsigned char> body = read.get();
          if (body.size() > max_bytes)
            return ReplyError(core, request, 413, too_large(body.size()));
          const std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
          internal::ServeStoreRequest(*core->state, op, text,
                                      [core, request](int status, std::string json) {
                                        Reply(core, request, status, std::move(json));
                                      });
        } catch (const std::exception& e) {
          ReplyError(core, request, 400,
                     InvalidArgumentError(std::string("cannot read the request: ") + e.what()));
        } catch (...) {
          ReplyError(core, request, 500, InternalError("unexpected failure serving the request"));
        }
      });
}

class HttpStoreServer final : public StoreServer {
 public:
  HttpStoreServer(std::shared_ptr<ServerCore> core, std::unique_ptr<http_listener> listener,
                  StoreAddress address)
      : core_(std::move(core)), listener_(std::move(listener)), address_(std::move(address)) {}

  ~HttpStoreServer() override { Stop(); }

  int port() const override { return address_.port; }
  StoreAddress address() const override { return address_; }

  void Stop() override {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    core_->stopping = true;
    core_->state->Close(UnavailableError("the store at " + address_.ToString() +
                                         " stopped while this request waited"));
    {
      std::unique_lock<std::mutex> drain(core_->mu);
      core_->drained.wait_for(drain, kReplyDrainTimeout,
                              [this] { return core_->replies_in_flight == 0; });
    }
    try {
      listener_->close().wait();
    } catch (const std::exception& e) {
      LogWarning(std::string("store at ") + address_.ToString() + ": closing: " + e.what());
    }
    AddressRegistry::Release(address_.ToString());
    LogDebug("store at " + address_.ToString() + " stopped");
  }

 private:
  const std::shared_ptr<ServerCore> core_;
  const std::unique_ptr<http_listener> listener_;
  const StoreAddress address_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

// Opens a listener on host:port; the error keeps whether the address was in use.
Result<std::unique_ptr<StoreServer>> Listen(const StoreServerOptions& options, int port,
                                            bool* in_use) {
  const StoreAddress address{options.host, port};
  auto core = std::make_shared<ServerCore>(options.token, options.limits, address.ToString());
  const std::string where = "cannot serve the store on " + address.ToString() + ": ";
  const std::string in_use_message =
      where +
      "the port is in use (another store or process holds it): stop that process or "
      "pick another port (0 picks a free one)";
  if (!AddressRegistry::Reserve(address.ToString())) {
    *in_use = true;
    return UnavailableError(in_use_message);
  }
  try {
    auto listener = std::make_unique<http_listener>("http://" + address.ToString() + "/");
    listener->support([core](http::http_request request) { Handle(core, request); });
    listener->open().wait();
    LogDebug("store listening on " + address.ToString());
    return std::unique_ptr<StoreServer>(
        std::make_unique<HttpStoreServer>(core, std::move(listener), address));
  } catch (const boost::system::system_error& e) {
    AddressRegistry::Release(address.ToString());
    *in_use = e.code().value() == EADDRINUSE;
    if (*in_use) return UnavailableError(in_use_message);
    return InvalidArgumentError(where + e.what() + "; is the host an address of this machine?");
  } catch (const std::exception& e) {
    AddressRegistry::Release(address.ToString());
    return InvalidArgumentError(where + e.what());
  }
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
  if (options.port != 0) {
    bool in_use = false;
    return Listen(options, options.port, &in_use);
  }
  Status last;
  for (int attempt = 0; attempt < kFreePortAttempts; ++attempt) {
    TRAIN_ASSIGN_OR_RETURN(const int port, internal::PickFreePort(options.host));
    bool in_use = false;
    auto server = Listen(options, port, &in_use);
    if (server.ok() || !in_use) return server;
    last = server.status();
  }
  return last.WithContext("no free port after " + std::to_string(kFreePortAttempts) + " tries");
}

}  // namespace train
