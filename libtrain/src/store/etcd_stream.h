// One exchange with one etcd member over cpprestsdk: a request and its whole answer, or a watch
// stream whose messages (one JSON object per line) are read as they arrive.
#ifndef TRAIN_SRC_STORE_ETCD_STREAM_H_
#define TRAIN_SRC_STORE_ETCD_STREAM_H_

#ifndef _TURN_OFF_PLATFORM_STRING
#define _TURN_OFF_PLATFORM_STRING  // cpprest's U() macro breaks fmt (see TOOLCHAIN.md)
#endif
#include <cpprest/http_client.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/etcd_client.h"
#include "store/etcd_wire.h"

namespace train::internal {

struct EtcdAnswer {
  int http_status = 0;
  std::string body;
};

// POSTs `body` to `path` with the auth token (none when empty) and waits up to `budget` for
// the whole answer: UNAVAILABLE when the member cannot be reached, DEADLINE_EXCEEDED when it
// does not answer in time (the request is then cancelled).
Result<EtcdAnswer> EtcdExchange(web::http::client::http_client& client, const std::string& url,
                                std::string_view path, const std::string& body,
                                const std::string& token, Milliseconds budget);

// A watch stream on one member, filled by cpprest's threads.
class EtcdStream final : public EtcdWatch {
 public:
  struct State;
  EtcdStream(std::shared_ptr<State> state, std::string url);
  ~EtcdStream() override;  // cancels the request, which closes its connection

  Result<std::optional<Json>> Next(SteadyTime deadline) override;

  // After Next failed: the error etcd answered instead of a watch, or nullptr when the failure
  // was the connection's.
  const EtcdError* refusal() const { return refusal_ ? &*refusal_ : nullptr; }

 private:
  std::shared_ptr<State> state_;
  std::string url_;
  std::optional<EtcdError> refusal_;
};

// Starts a watch (POST /v3/watch with EtcdWatchCreate's body) on the member at `url`.
std::unique_ptr<EtcdStream> OpenEtcdStream(web::http::client::http_client& client,
                                           const std::string& url, const std::string& body,
                                           const std::string& token);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_ETCD_STREAM_H_
