#include "round_liveness.h"

#include "train/internal/job_keys.h"
#include "train/worker.h"

namespace trainctl::agent {
namespace {

// A heartbeat refused within this is a closed port, not a slow or unreachable host; this many
// in a row, kRefusedRetry apart, fence the node before the heartbeat timeout.
constexpr Milliseconds kRefusedWithin{250};
constexpr Milliseconds kRefusedRetry{50};
constexpr int kRefusalsToFence = 3;
// After a failed watch (the store is unreachable; fencing decides what that means), the next.
constexpr Milliseconds kWatchRetry{100};

}  // namespace

std::string NodeKey(int node, std::string_view name) {
  return "node/" + std::to_string(node) + "/" + std::string(name);
}

std::vector<int> WatchedPeers(int node_rank, int num_nodes) {
  std::vector<int> peers;
  for (int k = 1; k <= kWatchedPeers && k < num_nodes; ++k) {
    peers.push_back((node_rank + k) % num_nodes);
  }
  return peers;
}

std::vector<std::string> LivenessKeys(int node_rank, int num_nodes, int nproc) {
  std::vector<std::string> keys;
  for (int node : WatchedPeers(node_rank, num_nodes)) {
    keys.push_back(NodeKey(node, "heartbeat"));
    keys.push_back(NodeKey(node, "done"));
  }
  for (int local = 0; local < nproc; ++local) {
    keys.push_back(train::internal::WorkerHeartbeatKey(node_rank * nproc + local));
  }
  return keys;
}

NodeHeartbeat::NodeHeartbeat(train::Store* round_store, int node, Milliseconds interval,
                             Milliseconds ttl, train::internal::OsEnv* env)
    : store_(round_store),
      key_(NodeKey(node, "heartbeat")),
      interval_(interval),
      ttl_(ttl),
      env_(env),
      last_ok_(env->SteadyNow()) {
  Beat();
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    // After a refusal the next beat comes soon: a store that is gone is confirmed quickly.
    auto next_wait = [this] {
      return refusals_ > 0 ? std::min(interval_, kRefusedRetry) : interval_;
    };
    while (!wake_.wait_for(lock, next_wait(), [this] { return stopping_; })) {
      lock.unlock();
      Beat();
      lock.lock();
    }
  });
}

NodeHeartbeat::~NodeHeartbeat() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Milliseconds NodeHeartbeat::SinceLastBeat() const {
  return std::chrono::duration_cast<Milliseconds>(env_->SteadyNow() - last_ok_.load());
}

bool NodeHeartbeat::StoreRefuses() const { return refusals_ >= kRefusalsToFence; }

void NodeHeartbeat::Beat() {
  const auto began = env_->SteadyNow();
  const train::Status status = store_->Set(key_, "alive", ttl_);
  if (status.ok()) {
    last_ok_ = env_->SteadyNow();
    refusals_ = 0;
    return;
  }
  const bool refused = status.code() == train::StatusCode::kUnavailable &&
                       env_->SteadyNow() - began < kRefusedWithin &&
                       status.message().find("Failed to connect") != std::string::npos;
  refusals_ = refused ? refusals_ + 1 : 0;
}

RestartWatch::RestartWatch(train::Store* round_store, std::string key, Milliseconds slice)
    : store_(round_store), key_(std::move(key)), slice_(slice) {
  thread_ = std::thread([this] {
    while (!stopping_) {
      auto got = store_->Get(key_, slice_);
      if (got.ok()) {
        std::lock_guard<std::mutex> lock(mutex_);
        reason_ = std::move(got).value();
        return;
      }
      if (got.status().code() != train::StatusCode::kDeadlineExceeded && !stopping_) {
        std::this_thread::sleep_for(kWatchRetry);
      }
    }
  });
}

RestartWatch::~RestartWatch() {
  stopping_ = true;
  thread_.join();
}

std::optional<std::string> RestartWatch::reason() {
  std::lock_guard<std::mutex> lock(mutex_);
  return reason_;
}

}  // namespace trainctl::agent
