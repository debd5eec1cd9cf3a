// Moving the built-in store when the node hosting it is lost (docs/store.md, "When the store's
// host is lost"). Every agent publishes in its member record the address it could host the
// store at; a round's record lists them in node order (the successors). An agent that fenced
// because the store stopped answering takes the first successor that is up: itself (it starts
// a StoreServer there with the job's token) or another agent's, once every earlier one had its
// grace to start.
#ifndef TRAINCTL_AGENT_STORE_FAILOVER_H_
#define TRAINCTL_AGENT_STORE_FAILOVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "train/env.h"
#include "train/status.h"
#include "train/store.h"

namespace trainctl::agent {

using train::Milliseconds;

struct FailoverOptions {
  std::string token;  // the job's token: a store started here accepts the same clients
  // Where this agent would host the store: listen on `bind_host`, published as `store_at`
  // (host:port, how the other agents reach it). Empty store_at: never a successor.
  std::string bind_host;
  std::string store_at;
  // How long an earlier successor has to bring its store up before the next one is tried.
  Milliseconds grace{std::chrono::seconds(10)};
  // How long one probe of a successor's store may take.
  Milliseconds probe_timeout{1000};
};

class StoreFailover {
 public:
  // `hosted`: the store this agent serves from the start (--host-store), or null.
  StoreFailover(FailoverOptions options, std::unique_ptr<train::StoreServer> hosted);
  ~StoreFailover();

  // This agent hosts the job's store from the start (--host-store) with `server`.
  void Adopt(std::unique_ptr<train::StoreServer> server) { server_ = std::move(server); }

  const std::string& store_at() const { return options_.store_at; }
  bool hosting() const { return server_ != nullptr; }
  // Where the job's store is after the last TakeOver (nullopt before any).
  const std::optional<train::StoreAddress>& current() const { return current_; }

  // The round's successors with the lost store's own address left out (an agent that would
  // host at that very address is the old store coming back, not a successor) and duplicates
  // dropped, in node order.
  static std::vector<std::string> Candidates(const std::vector<std::string>& successors,
                                             const train::StoreAddress& lost);

  // The store at `lost` stopped answering (this node fenced): returns where the job's store
  // is now. Walks `successors` in order; this agent's own address starts a store here; another
  // one is taken as soon as its store answers with the job's token, and passed over once it
  // stayed silent for the grace. FAILED_PRECONDITION when there is no candidate, CANCELLED
  // when `cancelled` becomes true, UNAVAILABLE when none came up.
  train::Result<train::StoreAddress> TakeOver(const std::vector<std::string>& successors,
                                              const train::StoreAddress& lost,
                                              const std::function<void(const std::string&)>& log,
                                              const std::atomic<bool>& cancelled);

  // This agent hosts the store but must not any more (its side of a partition is too small):
  // stops serving, so that no agent joins it.
  void StepDown();

 private:
  // Whether a store answers at `address` with this job's token.
  bool Answers(const train::StoreAddress& address) const;

  FailoverOptions options_;
  std::unique_ptr<train::StoreServer> server_;
  std::optional<train::StoreAddress> current_;
};

// The address an agent publishes for hosting the store: `bind_host` and the store's port; a
// wildcard bind ("0.0.0.0", "::") publishes `host_name` instead.
std::string PublishedStoreAddress(const std::string& bind_host, const std::string& host_name,
                                  int port);

// This machine's host name ("localhost" when it has none).
std::string ThisHostName();

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_STORE_FAILOVER_H_
