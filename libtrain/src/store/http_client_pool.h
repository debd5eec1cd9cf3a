// A blocking HTTP/1.1 client for the store's protocol: kept-alive TCP connections to one
// address, shared by the threads of one process. Each call takes a connection of its own for
// its exchange (a parked Get holds one while others go on) and gives it back when the answer
// was whole.
//
// Why not cpprestsdk's client: every request there goes through its thread pool and back to
// the caller through a continuation, several thread switches per call; with thousands of
// agents or workers on few cores that switching is most of the store's cost
// (docs/benchmarks.md, "Rendezvous at 4096 nodes"). Here the calling thread writes the request
// and reads the answer itself.
#ifndef TRAIN_SRC_STORE_HTTP_CLIENT_POOL_H_
#define TRAIN_SRC_STORE_HTTP_CLIENT_POOL_H_

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"
#include "train/store.h"

namespace train::internal {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class HttpClientPool {
 public:
  explicit HttpClientPool(StoreAddress address);
  ~HttpClientPool();
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  // POSTs `body` (JSON) to `path` with the extra header lines `headers` (each ending in CRLF)
  // and waits for the whole answer until `deadline`. UNAVAILABLE when the address cannot be
  // reached or the connection fails ("Failed to connect ..." when nothing accepted it), with
  // `*unsent` true when the request was not written whole on a reused connection (the server
  // never saw it: safe to send again); DEADLINE_EXCEEDED when no whole answer came in time.
  Result<HttpAnswer> Post(std::string_view path, std::string_view headers, std::string_view body,
                          std::chrono::steady_clock::time_point deadline, bool* unsent);

 private:
  Result<int> Connect(std::chrono::steady_clock::time_point deadline);
  int TakeIdle();
  void GiveBack(int fd);

  const StoreAddress address_;
  std::mutex mu_;
  std::vector<int> idle_;
};

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_HTTP_CLIENT_POOL_H_
