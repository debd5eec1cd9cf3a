// The worker's side of a job: store connection, heartbeats, barriers.
#include "train/worker.h"

#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "logging.h"
#include "metrics/step_reporter.h"
#include "train/defaults.h"
#include "train/internal/job_keys.h"
#include "train/log.h"

namespace train {
namespace {

using internal::kRoundConfigKey;
using internal::RoundKeyPrefix;
using internal::WorkerHeartbeatKey;

constexpr Milliseconds kRetryFirst{10};
constexpr Milliseconds kRetryMax{250};
// How long the rank that serves the store waits at exit for the others to finish with it.
constexpr Milliseconds kHostLinger{std::chrono::seconds(30)};
constexpr char kLeftKey[] = "left";

// Retries `op` while the store is UNAVAILABLE (not up yet, or restarting), until `timeout`.
template <typename Op>
auto RetryUnavailable(Op op, Milliseconds timeout) -> decltype(op()) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Milliseconds wait = kRetryFirst;
  while (true) {
    auto result = op();
    if (result.ok() || result.status().code() != StatusCode::kUnavailable ||
        std::chrono::steady_clock::now() + wait > deadline) {
      return result;
    }
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, kRetryMax);
  }
}

// "<interval_ms> <ttl_ms>", as the agent publishes them under kRoundConfigKey.
bool ParseHeartbeatConfig(const std::string& text, Milliseconds* interval, Milliseconds* ttl) {
  long long a = 0, b = 0;
  const char* end = text.data() + text.size();
  auto [p1, e1] = std::from_chars(text.data(), end, a);
  if (e1 != std::errc() || p1 == end || *p1 != ' ') return false;
  auto [p2, e2] = std::from_chars(p1 + 1, end, b);
  if (e2 != std::errc() || p2 != end || a <= 0 || b <= 0) return false;
  *interval = Milliseconds(a);
  *ttl = Milliseconds(b);
  return true;
}

}  // namespace

struct Worker::Impl {
  std::unique_ptr<StoreServer> server;  // rank 0 under torchrun
  std::unique_ptr<Store> base;          // the store client
  std::thread heartbeat;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;

  void StopHeartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }

  ~Impl() {
    StopHeartbeat();
    if (server) server->Stop();
  }
};

Worker::Worker(WorkerEnv env, std::unique_ptr<Impl> impl)
    : env_(std::move(env)), impl_(std::move(impl)) {}

Worker::~Worker() {
  // The heartbeat thread uses round_store_, which wraps impl_->base: stop it first.
  impl_->StopHeartbeat();
  if (round_store_ != nullptr) {
    // Say this rank is done with the store. The rank that serves it (under torchrun) keeps it
    // up until every rank said so: a rank still waiting in a barrier must get its answer.
    (void)round_store_->Add(kLeftKey, 1);
    if (impl_->server != nullptr) {
      const auto deadline = std::chrono::steady_clock::now() + kHostLinger;
      while (std::chrono::steady_clock::now() < deadline) {
        auto left = round_store_->Add(kLeftKey, 0);
        if (!left.ok() || *left >= env_.world_size) break;
        std::this_thread::sleep_for(kRetryFirst);
      }
    }
  }
  round_store_.reset();
  impl_.reset();
}

Result<std::unique_ptr<Worker>> Worker::Init(const WorkerOptions& options) {
  TRAIN_ASSIGN_OR_RETURN(WorkerEnv env, WorkerEnv::FromEnvironment());
  return Init(env, options);
}

namespace {

// The token: from TRAIN_TOKEN_FILE when given. Under torchrun without one, every rank derives
// the same token from the run id (torchrun has no secret to hand out; the store listens only
// for this run's lifetime).
Result<std::string> TokenFor(const WorkerEnv& env) {
  if (!env.token_file.empty()) return ReadTokenFile(env.token_file);
  if (env.launcher == Launcher::kTorchrun) return "torchrun/" + env.job_id;
  return FailedPreconditionError(
      "the worker has a store (" + (env.store ? env.store->ToString() : std::string("?")) +
      ") but no token file: set TRAIN_TOKEN_FILE to the file holding the job's token");
}

}  // namespace

Result<std::unique_ptr<Worker>> Worker::Init(const WorkerEnv& env, const WorkerOptions& options) {
  SetLogRank(env.rank);
  auto impl = std::make_unique<Impl>();
  if (!env.store.has_value()) {
    if (env.world_size > 1 && env.launcher != Launcher::kOpenMpi) {
      return FailedPreconditionError("a world of " + std::to_string(env.world_size) +
                                     " workers needs a store address; " + env.Describe());
    }
    return std::unique_ptr<Worker>(new Worker(env, std::move(impl)));
  }
  StoreAddress connect_to = *env.store;
  if (env.etcd.has_value()) {
    // The job's keys in its etcd cluster: nobody serves a store.
    TRAIN_ASSIGN_OR_RETURN(EtcdOptions etcd, JobEtcdOptions(*env.etcd, env.job_id));
    TRAIN_ASSIGN_OR_RETURN(impl->base, ConnectEtcdStore(etcd));
  }
  TRAIN_ASSIGN_OR_RETURN(std::string token,
                         env.etcd ? Result<std::string>(std::string()) : TokenFor(env));
  if (env.torch_agent_store) {
    return FailedPreconditionError(
        "torchrun's static rendezvous already serves its own store on MASTER_PORT (" +
        env.store->ToString() +
        "), where libtrain's store would go: launch with "
        "`torchrun --rdzv_backend c10d --rdzv_endpoint HOST:PORT ...` or `torchrun --standalone`");
  }
  if (env.hosts_store) {
    StoreServerOptions server_options;
    server_options.host = "0.0.0.0";
    server_options.port = env.store->port;
    server_options.token = token;
    TRAIN_ASSIGN_OR_RETURN(impl->server, StoreServer::Start(server_options));
    connect_to = StoreAddress{"127.0.0.1", env.store->port};
  }
  if (impl->base == nullptr) {
    TRAIN_ASSIGN_OR_RETURN(impl->base, ConnectStore(connect_to, token));
  }
  std::unique_ptr<Worker> worker(new Worker(env, std::move(impl)));
  worker->round_store_ =
      NewPrefixStore(RoundKeyPrefix(env.job_id, env.run_id), worker->impl_->base.get());
  Store* store = worker->round_store_.get();

  auto config =
      RetryUnavailable([&] { return store->TryGet(kRoundConfigKey); }, options.connect_timeout);
  if (!config.ok()) {
    return config.status().WithContext("rank " + std::to_string(env.rank) +
                                       " cannot reach the store at " + connect_to.ToString());
  }
  // Only trainctl's agents watch heartbeats; elsewhere nobody would read them.
  if (env.launcher == Launcher::kTrainctl) {
    Milliseconds interval = options.heartbeat_interval, ttl = options.heartbeat_ttl;
    if (config->has_value() && !ParseHeartbeatConfig(**config, &interval, &ttl)) {
      TRAIN_LOG_WARN("ignoring malformed heartbeat settings \"{}\" in the store", **config);
    }
    const std::string key = WorkerHeartbeatKey(env.rank);
    TRAIN_RETURN_IF_ERROR(store->Set(key, "alive", ttl));
    Impl* state = worker->impl_.get();
    state->heartbeat = std::thread([state, store, key, interval, ttl] {
      std::unique_lock<std::mutex> lock(state->mutex);
      while (!state->wake.wait_for(lock, interval, [state] { return state->stopping; })) {
        lock.unlock();
        Status status = store->Set(key, "alive", ttl);
        if (!status.ok()) TRAIN_LOG_WARN("heartbeat failed: {}", status.ToString());
        lock.lock();
      }
    });
  }
  return worker;
}

Status Worker::ReportProgress(std::int64_t step) {
  // A datagram to the agent, as step reports are: no store write per step.
  return internal::ReportProgress(step);
}

Status Worker::Barrier() {
  return Barrier(env_.collective_timeout_ms > 0 ? Milliseconds(env_.collective_timeout_ms)
                                                : defaults::kCollectiveTimeout);
}

Status Worker::Barrier(Milliseconds timeout) {
  if (round_store_ == nullptr) {
    if (env_.world_size == 1) return Status::Ok();
    return FailedPreconditionError("Barrier needs a store, and this worker (" + env_.Describe() +
                                   ") has none");
  }
  const std::string key = "barrier/" + std::to_string(++barrier_count_);
  TRAIN_ASSIGN_OR_RETURN(std::int64_t arrived, round_store_->Add(key + "/arrived", 1));
  if (arrived == env_.world_size) TRAIN_RETURN_IF_ERROR(round_store_->Set(key + "/open", "1"));
  auto open = round_store_->Get(key + "/open", timeout);
  if (open.ok()) return Status::Ok();
  if (open.status().code() != StatusCode::kDeadlineExceeded) return open.status();
  auto count = round_store_->TryGet(key + "/arrived");
  std::string seen = count.ok() && count->has_value() ? **count : "?";
  return DeadlineExceededError("barrier " + std::to_string(barrier_count_) + ": " + seen + " of " +
                               std::to_string(env_.world_size) + " ranks arrived within " +
                               std::to_string(timeout.count()) + " ms");
}

}  // namespace train
