#include "store_failover.h"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include "store_endpoint.h"

namespace trainctl::agent {
namespace {

using Clock = std::chrono::steady_clock;

constexpr Milliseconds kProbeEvery{200};

}  // namespace

std::string PublishedStoreAddress(const std::string& bind_host, const std::string& host_name,
                                  int port) {
  const std::string host = (bind_host == "0.0.0.0" || bind_host == "::") ? host_name : bind_host;
  return train::StoreAddress{host, port}.ToString();
}

std::string ThisHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

StoreFailover::StoreFailover(FailoverOptions options, std::unique_ptr<train::StoreServer> hosted)
    : options_(std::move(options)), server_(std::move(hosted)) {}

StoreFailover::~StoreFailover() = default;

std::vector<std::string> StoreFailover::Candidates(const std::vector<std::string>& successors,
                                                   const train::StoreAddress& lost) {
  std::vector<std::string> out;
  for (const std::string& s : successors) {
    if (s.empty() || s == lost.ToString()) continue;
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

bool StoreFailover::Answers(const train::StoreAddress& address) const {
  train::StoreClientOptions probe;
  probe.request_timeout = options_.probe_timeout;
  probe.default_timeout = options_.probe_timeout;
  auto client = train::ConnectStore(address, options_.token, probe);
  if (!client.ok()) return false;
  return (*client)->TryGet("failover-probe").ok();
}

train::Result<train::StoreAddress> StoreFailover::TakeOver(
    const std::vector<std::string>& successors, const train::StoreAddress& lost,
    const std::function<void(const std::string&)>& log, const std::atomic<bool>& cancelled) {
  const std::vector<std::string> candidates = Candidates(successors, lost);
  if (candidates.empty()) {
    return train::FailedPreconditionError(
        "no node of the last round published another address to host the store at (give the "
        "agents --store-bind with their own address)");
  }
  // Each earlier candidate gets the grace, counted from now, before the next one is tried: an
  // agent ahead of this one may still be noticing the loss.
  const auto started = Clock::now();
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    auto parsed = train::StoreAddress::Parse(candidates[i], "a round's successors");
    if (!parsed.ok()) continue;
    if (candidates[i] == options_.store_at) {
      auto up = train::StoreServer::Start(
          JobStoreServerOptions(options_.bind_host, parsed->port, options_.token));
      if (!up.ok()) {
        log("cannot host the store at " + candidates[i] + ": " + up.status().message());
        continue;
      }
      server_ = std::move(*up);
      log("the store at " + lost.ToString() + " is lost; this node hosts it now on " +
          candidates[i] + " (listening on " + server_->address().ToString() + ")");
      current_ = *parsed;
      return *parsed;
    }
    const auto give_up = started + options_.grace * static_cast<int>(i + 1);
    bool said = false;
    while (Clock::now() < give_up) {
      if (cancelled) return train::CancelledError("stopped while looking for the job's store");
      if (Answers(*parsed)) {
        log("the store at " + lost.ToString() + " is lost; the job's store is now on " +
            candidates[i]);
        current_ = *parsed;
        return *parsed;
      }
      if (!said) {
        log("the store at " + lost.ToString() + " is lost; waiting for the next node to host it " +
            "on " + candidates[i]);
        said = true;
      }
      std::this_thread::sleep_for(kProbeEvery);
    }
  }
  return train::UnavailableError("the store at " + lost.ToString() +
                                 " is lost and no successor brought one up (tried " +
                                 std::to_string(candidates.size()) + ")");
}

void StoreFailover::StepDown() {
  if (server_ != nullptr) server_->Stop();
  server_.reset();
}

}  // namespace trainctl::agent
