#include "store/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "train/log.h"

namespace train::internal {

namespace asio = boost::asio;
using asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

// One read from a socket takes at most this much.
constexpr std::size_t kReadChunk = 4096;
// After an error answer, the server reads and drops what the client still sends, for at most
// this long and this much, so the answer is not lost to a reset; then it closes.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = 1 << 20;
// accept() failing for lack of descriptors is retried after this pause.
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
// Work handed to InTurns runs at most this many items between two looks at the sockets: about
// half a millisecond of answers to parked requests (32 gave twice the tail to other clients
// during a 4096-agent round; docs/benchmarks.md, "Answers in turns").
constexpr std::size_t kWorkTurn = 16;

class Connection;

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(const HttpServerOptions& options_in, std::shared_ptr<HttpHandler> handler_in)
      : options(options_in),
        handler(std::move(handler_in)),
        work(asio::make_work_guard(io)),
        accept_strand(asio::make_strand(io)),
        acceptor(accept_strand),
        accept_retry(accept_strand) {}

  // Reserves `bytes` of the budget shared by every connection; false when over it.
  bool Reserve(std::size_t bytes) {
    std::size_t held = buffered.load();
    do {
      if (bytes > options.max_buffered_bytes || held > options.max_buffered_bytes - bytes) {
        return false;
      }
    } while (!buffered.compare_exchange_weak(held, held + bytes));
    return true;
  }
  void Release(std::size_t bytes) { buffered -= bytes; }

  void ReplyStarted() {
    std::lock_guard<std::mutex> lock(mu);
    ++replies_in_flight;
  }
  void ReplyDone() {
    std::lock_guard<std::mutex> lock(mu);
    if (--replies_in_flight == 0) drained.notify_all();
  }

  void Accept();

  // InTurns: queues `item` and posts a turn unless one is posted already.
  void QueueWork(std::function<void()> item) {
    ReplyStarted();  // Stop's drain waits for it
    {
      std::lock_guard<std::mutex> lock(work_mu);
      queued_work.push_back(std::move(item));
      if (turn_posted) return;
      turn_posted = true;
    }
    asio::post(io, [this] { Turn(); });
  }

  // Runs up to kWorkTurn queued items. The next turn is posted behind what the sockets have
  // brought in meanwhile, so the rest of a burst takes turns with the other clients.
  void Turn() {
    std::vector<std::function<void()>> turn;
    {
      std::lock_guard<std::mutex> lock(work_mu);
      const std::size_t n = std::min(kWorkTurn, queued_work.size());
      turn.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        turn.push_back(std::move(queued_work.front()));
        queued_work.pop_front();
      }
      turn_posted = !queued_work.empty();
    }
    if (turn_posted) asio::post(io, [this] { Turn(); });
    for (std::function<void()>& item : turn) {
      try {
        item();
      } catch (const std::exception& e) {
        LogError(std::string("store server: queued work failed unexpectedly: ") + e.what());
      }
      ReplyDone();
    }
  }

  // Connections use these until they are destroyed, which can happen while `io` is torn
  // down: they are declared before it so that they outlive it.
  const HttpServerOptions options;
  const std::shared_ptr<HttpHandler> handler;
  std::atomic<std::size_t> buffered{0};
  std::atomic<bool> closing{false};  // no new connections
  mutable std::mutex mu;
  std::condition_variable drained;
  int replies_in_flight = 0;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> live;
  bool stopped = false;
  int port = 0;
  std::vector<std::thread> threads;
  std::mutex work_mu;
  std::deque<std::function<void()>> queued_work;  // InTurns' work waiting for a turn
  bool turn_posted = false;

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  Strand accept_strand;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Impl* server, tcp::socket socket, Strand strand)
      : server_(server), socket_(std::move(socket)), strand_(strand), timer_(strand) {}

  ~Connection() {
    server_->Release(held_);
    std::lock_guard<std::mutex> lock(server_->mu);
    server_->live.erase(this);
  }

  // Runs on the strand. Over the connection limit, the client only hears why.
  void Start(bool over_capacity) {
    ErrorCode ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    socket_.non_blocking(true, ignored);
    if (over_capacity) {
      return Fail(503, std::to_string(server_->options.max_connections) +
                           " connections are open to the store, its limit "
                           "(StoreLimits.max_connections): try again later");
    }
    ArmTimer(server_->options.idle_timeout);
    Read();
  }

  // From any thread: closes the connection (Stop).
  void CloseFromOutside() {
    asio::post(strand_, [self = shared_from_this()] { self->Close(); });
  }

 private:
  enum class Phase { kHead, kBody, kServing, kWriting, kLinger, kClosed };

  const HttpServerOptions& options() const { return server_->options; }

  bool Reserve(std::size_t bytes) {
    if (!server_->Reserve(bytes)) return false;
    held_ += bytes;
    return true;
  }
  void Release(std::size_t bytes) {
    server_->Release(bytes);
    held_ -= bytes;
  }

  // Waits for the socket to be readable, unless a wait is pending already. Reading happens
  // in OnReadable into memory the connection owns at that moment, so the buffers can change
  // between reads.
  void Read() {
    if (waiting_read_ || peer_done_ || phase_ == Phase::kClosed) return;
    if (phase_ != Phase::kBody && phase_ != Phase::kLinger &&
        buffer_.size() >= options().max_head_bytes) {
      return;  // a pipelined request fills the head's room: it waits for the current answer
    }
    waiting_read_ = true;
    socket_.async_wait(tcp::socket::wait_read,
                       asio::bind_executor(strand_, [self = shared_from_this()](ErrorCode error) {
                         self->waiting_read_ = false;
                         self->OnReadable(error);
                       }));
  }

  void OnReadable(ErrorCode error) {
    if (phase_ == Phase::kClosed) return;
    if (error) return Close();
    if (phase_ == Phase::kLinger) return Discard();
    if (phase_ == Phase::kBody) return ReadBody();

    // A head, or what comes while a request is served: its end (the client left) or the
    // next request.
    const std::size_t room = std::min(kReadChunk, options().max_head_bytes - buffer_.size());
    if (!Reserve(room)) return Overloaded();
    std::array<char, kReadChunk> chunk;
    const std::size_t got = socket_.read_some(asio::buffer(chunk.data(), room), error);
    Release(room - got);
    if (error == asio::error::would_block || error == asio::error::try_again) return Read();
    if (error == asio::error::eof && AnswerComing()) {
      peer_done_ = true;  // a client that only shut its side down still gets its answer
      return;
    }
    if (error) return Close();  // the client left: a parked long poll is cancelled
    buffer_.append(chunk.data(), got);
    Process();
  }

  // Whether the answer to the current request is on its way (not parked for later).
  bool AnswerComing() const {
    return phase_ == Phase::kWriting || (phase_ == Phase::kServing && !cancel_);
  }

  void ReadBody() {
    ErrorCode error;
    const std::size_t got =
        socket_.read_some(asio::buffer(&body_[body_filled_], body_.size() - body_filled_), error);
    if (error == asio::error::would_block || error == asio::error::try_again) return Read();
    if (error) return Close();
    body_filled_ += got;
    Process();
  }

  // Moves the request along with what has been received.
  void Process() {
    if (phase_ == Phase::kHead) {
      if (buffer_.empty()) return Read();
      HttpHeadParse parsed = ParseRequestHead(buffer_, options().max_head_bytes);
      if (parsed.state == HttpHeadParse::State::kError) {
        return Fail(parsed.error.status, parsed.error.message);
      }
      if (parsed.state == HttpHeadParse::State::kIncomplete) {
        if (!head_started_) {
          head_started_ = true;
          ArmTimer(options().read_timeout);
        }
        return Read();
      }
      buffer_.erase(0, parsed.head_bytes);
      Release(parsed.head_bytes);
      head_ = std::move(parsed.head);
      return OnHead();
    }
    if (phase_ == Phase::kBody) {
      if (body_filled_ < body_.size()) return Read();
      return Dispatch();
    }
    // Serving or writing: anything more is the next request, parsed after this answer.
    Read();
  }

  void OnHead() {
    if (std::optional<HttpError> refused = server_->handler->CheckHead(head_)) {
      return Fail(refused->status, refused->message, refused->drain_bytes);
    }
    if (head_.chunked) {
      return Fail(411,
                  "the request's body has no Content-Length: send one (chunked bodies are "
                  "refused)");
    }
    const std::uint64_t length = head_.content_length.value_or(0);
    if (length > options().max_body_bytes) {
      return Fail(413, "the request body is " + std::to_string(length) + " bytes, over the " +
                           std::to_string(options().max_body_bytes) + " the server accepts");
    }
    if (!Reserve(length)) return Overloaded();
    body_reserved_ = length;
    body_.resize(length);
    body_filled_ = std::min<std::size_t>(length, buffer_.size());
    std::copy_n(buffer_.begin(), body_filled_, body_.begin());
    buffer_.erase(0, body_filled_);
    Release(body_filled_);  // those bytes now count in the body's reservation
    phase_ = Phase::kBody;
    ArmTimer(options().read_timeout);  // the body, too, must come in time
    Process();
  }

  void Dispatch() {
    phase_ = Phase::kServing;
    CancelTimer();
    const std::uint64_t request = ++request_id_;
    std::weak_ptr<Connection> weak = weak_from_this();
    std::weak_ptr<HttpServer::Impl> weak_server = server_->weak_from_this();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    HttpRespondFn respond = [weak, weak_server, request, answered](int status, std::string body) {
      if (answered->exchange(true)) return;
      // The server first: while it is held, the io_context the connection posts to lives.
      std::shared_ptr<HttpServer::Impl> server = weak_server.lock();
      std::shared_ptr<Connection> self = weak.lock();
      if (server == nullptr || self == nullptr) return;
      server->ReplyStarted();
      asio::post(self->strand_, [self, request, status, body = std::move(body)]() mutable {
        self->Answer(request, status, std::move(body));
      });
    };
    try {
      cancel_ = server_->handler->Serve(head_, std::string_view(body_), std::move(respond));
    } catch (const std::exception& e) {
      LogError(std::string("store server: a request failed unexpectedly: ") + e.what());
      return Fail(500, "the store failed serving the request");
    }
    Release(body_reserved_);
    body_reserved_ = 0;
    std::string().swap(body_);
    body_filled_ = 0;
    Read();  // notices the client leaving while the answer is pending
  }

  void Answer(std::uint64_t request, int status, std::string body) {
    if (phase_ != Phase::kServing || request != request_id_) {
      server_->ReplyDone();  // the client left first
      return;
    }
    cancel_ = nullptr;
    const bool keep_alive = head_.keep_alive && !server_->closing;
    Write(status, std::move(body), keep_alive, /*counted=*/true);
  }

  void Write(int status, std::string body, bool keep_alive, bool counted) {
    phase_ = Phase::kWriting;
    out_head_ = FormatResponseHead(status, body.size(), keep_alive);
    out_body_ = std::move(body);
    ArmTimer(options().read_timeout);  // a client that does not read its answer is dropped
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(out_head_),
                                                       asio::buffer(out_body_)};
    asio::async_write(socket_, buffers,
                      asio::bind_executor(strand_, [self = shared_from_this(), keep_alive, counted](
                                                       ErrorCode error, std::size_t) {
                        if (counted) self->server_->ReplyDone();
                        self->OnWritten(error, keep_alive);
                      }));
  }

  void OnWritten(ErrorCode error, bool keep_alive) {
    if (phase_ == Phase::kClosed) return;
    std::string().swap(out_head_);
    std::string().swap(out_body_);
    if (error || peer_done_) return Close();
    if (!keep_alive) return Linger();
    phase_ = Phase::kHead;
    head_ = {};
    head_started_ = !buffer_.empty();
    if (buffer_.empty()) std::string().swap(buffer_);
    ArmTimer(head_started_ ? options().read_timeout : options().idle_timeout);
    Process();
  }

  // Answers an error and closes; the body, if any, is never kept (at most `drain_bytes` of it
  // are read and dropped).
  void Fail(int status, const std::string& message, std::size_t drain_bytes = 0) {
    if (phase_ == Phase::kClosed || phase_ == Phase::kWriting || phase_ == Phase::kLinger) return;
    linger_bytes_ = std::max(kLingerBytes, drain_bytes);
    linger_time_ = drain_bytes > 0 ? options().read_timeout
                                   : std::chrono::duration_cast<Milliseconds>(kLingerTime);
    if (cancel_) {
      cancel_();
      cancel_ = nullptr;
    }
    std::string body;
    try {
      body = server_->handler->ErrorBody(status, message);
    } catch (...) {
    }
    Write(status, std::move(body), /*keep_alive=*/false, /*counted=*/false);
  }

  void Overloaded() {
    Fail(503, "the store holds " + std::to_string(server_->buffered.load()) +
                  " bytes of requests being received, near its limit of " +
                  std::to_string(options().max_buffered_bytes) +
                  " (StoreLimits.max_buffered_bytes): try again later");
  }

  // Half-closes after the last answer and drops what the client still sends for a moment,
  // so that a client still sending receives the answer instead of a reset.
  void Linger() {
    phase_ = Phase::kLinger;
    ErrorCode ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    ReleaseBuffers();
    ArmTimer(linger_time_);
    Read();
  }

  void Discard() {
    std::array<char, kReadChunk> chunk;
    ErrorCode error;
    const std::size_t got = socket_.read_some(asio::buffer(chunk), error);
    if (error == asio::error::would_block || error == asio::error::try_again) return Read();
    discarded_ += got;
    if (error || discarded_ >= linger_bytes_) return Close();
    Read();
  }

  void ArmTimer(Milliseconds after) {
    const std::uint64_t generation = ++timer_generation_;
    timer_.expires_after(after);
    timer_.async_wait(
        asio::bind_executor(strand_, [self = shared_from_this(), generation](ErrorCode error) {
          if (error || generation != self->timer_generation_) return;
          self->OnTimeout();
        }));
  }

  void CancelTimer() {
    ++timer_generation_;
    timer_.cancel();
  }

  void OnTimeout() {
    switch (phase_) {
      case Phase::kHead:
        if (!head_started_) return Close();  // an idle kept-alive connection
        return Fail(408, "the request head did not arrive within " +
                             std::to_string(options().read_timeout.count()) +
                             " ms (StoreLimits.read_timeout)");
      case Phase::kBody:
        return Fail(408, "the request body (" + std::to_string(body_filled_) + " of " +
                             std::to_string(body_.size()) + " bytes) did not arrive within " +
                             std::to_string(options().read_timeout.count()) +
                             " ms (StoreLimits.read_timeout)");
      case Phase::kServing:
        return;
      case Phase::kWriting:
      case Phase::kLinger:
      case Phase::kClosed:
        return Close();
    }
  }

  void ReleaseBuffers() {
    Release(held_);
    body_reserved_ = 0;
    std::string().swap(buffer_);
    std::string().swap(body_);
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    if (cancel_) {
      auto cancel = std::move(cancel_);
      cancel_ = nullptr;
      cancel();
    }
    CancelTimer();
    ErrorCode ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    ReleaseBuffers();
  }

  HttpServer::Impl* const server_;
  tcp::socket socket_;
  Strand strand_;
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;

  Phase phase_ = Phase::kHead;
  bool waiting_read_ = false;
  bool peer_done_ = false;  // the client sent EOF; close once its answer is written
  bool head_started_ = false;
  std::size_t held_ = 0;  // bytes reserved from the server's budget
  std::string buffer_;    // received and not yet parsed: a head, or the next request
  HttpRequestHead head_;
  std::string body_;
  std::size_t body_filled_ = 0;
  std::size_t body_reserved_ = 0;
  std::uint64_t request_id_ = 0;
  std::function<void()> cancel_;  // of the request being served
  std::string out_head_;
  std::string out_body_;
  std::size_t discarded_ = 0;
  std::size_t linger_bytes_ = kLingerBytes;
  Milliseconds linger_time_{std::chrono::duration_cast<Milliseconds>(kLingerTime)};
};

}  // namespace

void HttpServer::Impl::Accept() {
  Strand strand = asio::make_strand(io);
  acceptor.async_accept(strand, [this, strand](ErrorCode error, auto socket) {
    if (closing) return;
    if (error == asio::error::operation_aborted) return;
    if (error) {
      // Out of descriptors (EMFILE) or a connection reset before accept: pause, go on.
      accept_retry.expires_after(kAcceptRetry);
      accept_retry.async_wait([this](ErrorCode wait_error) {
        if (!wait_error && !closing) Accept();
      });
      return;
    }
    auto connection = std::make_shared<Connection>(this, tcp::socket(std::move(socket)), strand);
    bool over_capacity = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      over_capacity = live.size() >= options.max_connections;
      live.emplace(connection.get(), connection);
    }
    asio::post(strand, [connection, over_capacity] { connection->Start(over_capacity); });
    Accept();
  });
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(Milliseconds(0)); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      std::shared_ptr<HttpHandler> handler,
                                                      bool* in_use) {
  *in_use = false;
  auto impl = std::make_shared<Impl>(options, std::move(handler));
  const std::string where =
      "cannot serve the store on " + StoreAddress{options.host, options.port}.ToString() + ": ";
  ErrorCode error;
  tcp::resolver resolver(impl->io);
  const auto found =
      resolver.resolve(options.host, std::to_string(options.port),
                       tcp::resolver::numeric_service | tcp::resolver::passive, error);
  if (error || found.empty()) {
    return InvalidArgumentError(where + "the host does not resolve (" + error.message() +
                                "); is the host an address of this machine?");
  }
  const tcp::endpoint endpoint = found.begin()->endpoint();
  tcp::acceptor& acceptor = impl->acceptor;
  if (acceptor.open(endpoint.protocol(), error)) {
    return UnavailableError(where + "cannot open a socket: " + error.message());
  }
  // Lets a restarted server take its port back while old connections sit in TIME_WAIT; the
  // kernel still refuses a port another socket listens on.
  acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (acceptor.bind(endpoint, error) ||
      acceptor.listen(asio::socket_base::max_listen_connections, error)) {
    *in_use = error == asio::error::address_in_use;
    if (*in_use) {
      return UnavailableError(where +
                              "the port is in use (another store or process holds it): stop "
                              "that process or pick another port (0 picks a free one)");
    }
    return InvalidArgumentError(where + error.message() +
                                "; is the host an address of this machine?");
  }
  impl->port = acceptor.local_endpoint(error).port();
  Impl* raw = impl.get();
  asio::post(raw->accept_strand, [raw] { raw->Accept(); });
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    raw->threads.emplace_back([raw] {
      for (;;) {
        try {
          raw->io.run();
          return;
        } catch (const std::exception& e) {
          LogError(std::string("store server: a connection failed unexpectedly: ") + e.what());
        }
      }
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port; }

HttpServer::WorkQueue HttpServer::InTurns() const {
  return [weak = std::weak_ptr<Impl>(impl_)](std::function<void()> item) {
    if (std::shared_ptr<Impl> impl = weak.lock()) return impl->QueueWork(std::move(item));
    item();
  };
}

std::size_t HttpServer::connection_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->live.size();
}

void HttpServer::Stop(Milliseconds drain) {
  Impl& impl = *impl_;
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    if (impl.stopped) return;
    impl.stopped = true;
  }
  // Once this runs on the acceptor's strand, no connection can be added.
  std::promise<void> acceptor_closed;
  asio::post(impl.accept_strand, [&impl, &acceptor_closed] {
    impl.closing = true;
    ErrorCode ignored;
    impl.acceptor.close(ignored);
    impl.accept_retry.cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();
  {
    std::unique_lock<std::mutex> lock(impl.mu);
    impl.drained.wait_for(lock, drain, [&impl] { return impl.replies_in_flight == 0; });
  }
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    for (const auto& [raw, weak] : impl.live) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  for (const auto& connection : open) connection->CloseFromOutside();
  open.clear();
  impl.work.reset();
  for (std::thread& thread : impl.threads) thread.join();
  impl.threads.clear();
}

}  // namespace train::internal
