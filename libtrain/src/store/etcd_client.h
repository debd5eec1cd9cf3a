// The etcd store's transport: POSTs to a cluster's JSON gateway through cpprestsdk's
// http_client, moving from member to member while one cannot serve, with etcd's user and
// password authentication and TLS client certificates.
#ifndef TRAIN_SRC_STORE_ETCD_CLIENT_H_
#define TRAIN_SRC_STORE_ETCD_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/etcd_wire.h"
#include "train/status.h"
#include "train/store.h"

namespace train::internal {

using SteadyTime = std::chrono::steady_clock::time_point;

// The longest a blocking Get or Wait keeps one watch stream: then it reads again and watches
// anew, so a member that went silent (partitioned, frozen) cannot hold a wait forever.
inline constexpr Milliseconds kEtcdWatchSpan{std::chrono::seconds(30)};

// One watch stream, open on one member.
class EtcdWatch {
 public:
  virtual ~EtcdWatch() = default;  // cancels the stream

  // The next message's "result" (header, events); nullopt when `deadline` comes first.
  // UNAVAILABLE when the stream broke (its member went away): watch again, elsewhere.
  virtual Result<std::optional<Json>> Next(SteadyTime deadline) = 0;
};

class EtcdClient {
 public:
  // Checks the options (endpoints, TLS files) and prepares one http_client per member; sends
  // nothing.
  static Result<std::unique_ptr<EtcdClient>> Create(const EtcdOptions& options);
  virtual ~EtcdClient() = default;
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // POSTs `body` to `path` ("/v3/kv/range") and returns the answer. A member that cannot be
  // reached, does not answer within its share of `budget`, or says it cannot serve now (no
  // leader, stopping, overloaded) is left for the next one until `budget` has passed, so the
  // request may reach the cluster twice: it must be safe to repeat. An expired auth token is
  // renewed. Errors name the members and what etcd said.
  virtual Result<Json> Call(std::string_view path, const Json& body, Milliseconds budget) = 0;

  // Opens a watch (EtcdWatchCreate's body) on one member, moving on as Call does while none
  // accepts it within `budget`. On return the watch is open (etcd said "created"), or, when
  // the budget ran out before the last member tried confirmed it, pending: the confirmation
  // (or a refusal) is then the stream's first message.
  virtual Result<std::unique_ptr<EtcdWatch>> Watch(const Json& create, Milliseconds budget) = 0;

  // "etcd (a:2379, b:2379)": the cluster, for messages.
  virtual std::string Where() const = 0;

 protected:
  EtcdClient() = default;
};

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_ETCD_CLIENT_H_
