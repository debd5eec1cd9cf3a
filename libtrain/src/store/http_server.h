// A small HTTP/1.1 server on Boost.Asio for the store: it owns the sockets, the parsing and
// every limit on what a client may make it hold, and hands whole requests to a handler.
//
// What a client can cost the server is bounded before it is trusted: a request head is read
// up to `max_head_bytes`, then the handler decides from the head alone (the token, the path,
// the announced length) whether the body is read at all; a body is read only with a
// Content-Length within `max_body_bytes` and the bytes held across all connections stay under
// `max_buffered_bytes`. Heads and bodies must arrive within `read_timeout`, idle kept-alive
// connections close after `idle_timeout`, and at most `max_connections` are open at once.
// A request the handler answers later (a long poll) costs no thread, and its client going
// away cancels it.
#ifndef TRAIN_SRC_STORE_HTTP_SERVER_H_
#define TRAIN_SRC_STORE_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/http_request.h"
#include "train/defaults.h"
#include "train/status.h"
#include "train/store.h"

namespace train::internal {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: the kernel picks one
  std::size_t max_head_bytes = 16 << 10;
  std::size_t max_body_bytes = 4 << 20;
  std::size_t max_connections = 65536;  // StoreServer::Start sets it from StoreLimits
  std::size_t max_buffered_bytes = 256 << 20;
  Milliseconds read_timeout = defaults::kStoreReadTimeout;
  Milliseconds idle_timeout{std::chrono::minutes(2)};
  int threads = 2;
};

// Answers one request: an HTTP status and a JSON body. Callable from any thread; the first
// call counts, and a call after the client went away does nothing.
using HttpRespondFn = std::function<void(int status, std::string body)>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;

  // Decides from the head alone: nullopt reads the body and calls Serve; an error is sent
  // and the connection closed without reading a byte of the body.
  virtual std::optional<HttpError> CheckHead(const HttpRequestHead& head) = 0;

  // Serves a whole request by calling `respond` once, now or later. Returns what cancels the
  // request if its client goes away before the answer (empty when there is nothing to do).
  virtual std::function<void()> Serve(const HttpRequestHead& head, std::string_view body,
                                      HttpRespondFn respond) = 0;

  // The JSON body of an error the server itself sends (a limit, a timeout, a bad head).
  virtual std::string ErrorBody(int status, const std::string& message) = 0;
};

class HttpServer {
 public:
  // Listens on options.host:options.port; errors name the address and why. `in_use` says
  // whether the port was taken (the caller may try another).
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   std::shared_ptr<HttpHandler> handler,
                                                   bool* in_use);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;

  // Stops accepting, lets answers already given reach their clients (up to `drain`), then
  // closes every connection and stops the threads. Idempotent.
  void Stop(Milliseconds drain);

  // Connections open now (for tests and logs).
  std::size_t connection_count() const;

  // What hands work to the server's threads in turns: at most a few items run between two
  // looks at the sockets, so a burst of work (the answers to thousands of parked requests,
  // woken by one write) does not hold back every other client's request until it is done.
  // Stop's drain waits for queued work. Callable from any thread; once the server is gone,
  // the work runs at once on the calling thread.
  using WorkQueue = std::function<void(std::function<void()> work)>;
  WorkQueue InTurns() const;

  struct Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl);
  // Shared: an answer given late, from another thread, keeps it alive while it posts.
  std::shared_ptr<Impl> impl_;
};

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_HTTP_SERVER_H_
