// The agent's outer loop: join a round, run it, and decide what its end means for the job.
#include "agent.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "agent_metrics.h"
#include "duration.h"
#include "failure_report.h"
#include "job_outcome.h"
#include "memory_dir.h"
#include "preemption.h"
#include "round_runner.h"
#include "store_endpoint.h"
#include "store_failover.h"
#include "train/internal/job_keys.h"
#include "train/worker.h"

namespace trainctl::agent {
namespace {

constexpr Milliseconds kMaxBackoff{std::chrono::minutes(5)};

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

// Unique among the agents of a job, also across agents on one host and restarts of one agent.
std::string NewAgentId(const std::string& host) {
  std::random_device device;
  return host + "/" + std::to_string(getpid()) + "/" + std::to_string(device());
}

}  // namespace

struct Agent::Impl {
  AgentOptions options;
  Terminal* terminal;
  std::atomic<bool> stop{false};
  std::atomic<bool> force{false};
  std::atomic<int> stop_signal{0};
  std::atomic<int> last_round_nodes{0};
  KillSwitch kill_switch;
  std::unique_ptr<MetricsCollector> metrics;
  NodeResources node;  // what rounds get beside the options

  void Say(const std::string& line) { terminal->WriteLine("trainctl: " + line); }
  int StopCode() const { return StopExitCode(stop_signal.load(), force.load()); }
  int Run();
};

Agent::Agent(AgentOptions options, Terminal* terminal) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->terminal = terminal;
  if (impl_->options.job.spec().checkpoint().has_memory()) {
    // One per agent: the local nodes of one `trainctl run` each have their own "RAM".
    static std::atomic<int> agents{0};
    impl_->node.memory_dir = MemorySnapshotDir(::getpid(), agents++);
  }
}

Agent::~Agent() = default;

int Agent::Run() {
  const int code = impl_->Run();
  if (!impl_->node.memory_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(impl_->node.memory_dir, ec);
  }
  if (impl_->metrics) impl_->metrics->JobEnded(code);
  return code;
}

int Agent::last_round_nodes() const { return impl_->last_round_nodes; }

void Agent::RequestStop(int signal, bool force) {
  impl_->stop_signal = signal;
  if (force) {
    impl_->force = true;
    impl_->kill_switch.Fire();
  }
  impl_->stop = true;
}

int Agent::Impl::Run() {
  const auto& spec = options.job.spec();
  train::StoreClientOptions client_options;
  client_options.request_timeout =
      std::max(spec::ValidatedMillis(spec.rendezvous().heartbeat_timeout()), Milliseconds(1000));
  auto client = ConnectJobStore(options.store, options.token_file, options.etcd,
                                options.job.metadata().name(), client_options);
  if (!client.ok()) {
    Say(client.status().message());
    return kExitAgentError;
  }
  const std::string& job_id = options.job.metadata().name();
  // Clients of stores this agent left behind after a failover: the metrics and the runner
  // may still hold them.
  std::vector<std::unique_ptr<train::Store>> retired;
  std::unique_ptr<train::Store> store_client = std::move(*client);
  std::unique_ptr<train::Store> job_store =
      train::NewPrefixStore(train::internal::JobKeyPrefix(job_id), store_client.get());
  metrics = StartAgentMetrics(options, job_store.get(), terminal);
  node.metrics = metrics.get();

  RendezvousConfig config;
  config.min_nodes = spec.nodes().min();
  config.max_nodes = spec.nodes().max();
  config.join_timeout = spec::ValidatedMillis(spec.rendezvous().join_timeout());
  config.last_call = spec::ValidatedMillis(spec.rendezvous().last_call());
  config.store = options.store;
  config.log = [this](const std::string& line) { Say(line); };
  const std::string host = HostName();
  auto rendezvous = std::make_unique<Rendezvous>(
      job_store.get(), config,
      NodeInfo{NewAgentId(host), host, options.node_rank_hint, 0, options.launch_id,
               options.failover != nullptr ? options.failover->store_at() : ""});
  // The next join needs at least `quorum` nodes (after the store moved, or on the store's
  // host after nodes were lost): the side of a partition without it never forms a round.
  const auto rejoin_with = [&](int quorum) {
    RendezvousConfig next = config;
    next.min_nodes = std::clamp(quorum, config.min_nodes, config.max_nodes);
    rendezvous = std::make_unique<Rendezvous>(job_store.get(), next, rendezvous->self());
  };

  auto runner = std::make_unique<RoundRunner>(options, node, terminal, store_client.get(), host,
                                              &kill_switch);
  std::int64_t min_round = 0;
  while (true) {
    if (metrics) metrics->RendezvousStarted();
    auto round = rendezvous->Join(min_round, stop);
    if (!round.ok()) {
      if (stop) return StopCode();
      if (round.status().code() == train::StatusCode::kAborted) {
        if (auto code = RecordedExitCode(job_store.get())) return *code;
      }
      Say("cannot join the job's rendezvous at " + options.store.ToString() + ": " +
          round.status().message());
      return kExitAgentError;
    }
    last_round_nodes = round->num_nodes();
    rejoin_with(config.min_nodes);
    if (!round->launch_id.empty()) rendezvous->self().launch_id = round->launch_id;
    RoundEnd end = runner->Run(*round, stop, force);
    if (metrics) metrics->RoundEnded(round->id, RoundEndName(end.kind));
    switch (end.kind) {
      case RoundEnd::kSucceeded:
        return 0;
      case RoundEnd::kStopped:
        return StopCode();
      case RoundEnd::kFailed:
        return end.exit_code;
      case RoundEnd::kFenced:
        // A fenced round is a restart like any other: it spends the budget.
        if (const int spent = runner->RestartsSpent(*round);
            spent >= spec.failure_policy().max_restarts()) {
          const std::string why = end.reason + " (fenced) in round " + std::to_string(round->id) +
                                  "; no restarts left (maxRestarts " +
                                  std::to_string(spec.failure_policy().max_restarts()) +
                                  ", restarts so far " + std::to_string(spent) + ")";
          RecordOutcome(job_store.get(), JobOutcome::Failed(kExitAgentError, why));
          Say(why + "; giving up");
          return kExitAgentError;
        }
        Say("round " + std::to_string(round->id) + " ended: " + end.reason +
            " (fenced); rejoining, restart " + std::to_string(runner->RestartsSpent(*round) + 1) +
            " of " + std::to_string(spec.failure_policy().max_restarts()) + " (maxRestarts)");
        if (options.failover != nullptr) {
          auto moved = options.failover->TakeOver(
              round->successors, options.store, [this](const std::string& l) { Say(l); }, stop);
          if (stop) return StopCode();
          train::Result<std::unique_ptr<train::Store>> fresh = moved.status();
          if (moved.ok()) {
            fresh =
                ConnectJobStore(*moved, options.token_file, options.etcd, job_id, client_options);
          }
          if (fresh.ok()) {
            retired.push_back(std::move(job_store));
            retired.push_back(std::move(store_client));
            options.store = config.store = *moved;  // workers of the next round get it
            store_client = std::move(*fresh);
            job_store =
                train::NewPrefixStore(train::internal::JobKeyPrefix(job_id), store_client.get());
            runner = std::make_unique<RoundRunner>(options, node, terminal, store_client.get(),
                                                   host, &kill_switch);
            // At least half of the last round's nodes must reach the new store.
            rejoin_with((round->num_nodes() + 1) / 2);
          } else if (fresh.status().code() != train::StatusCode::kFailedPrecondition) {
            Say(fresh.status().message());
          }
        }
        [[fallthrough]];
      case RoundEnd::kRestart: {
        const int restarts = round->restart_count + 1;
        rendezvous->self().next_restart = restarts;
        // The store's host keeps the job only with more than half of the last round's nodes:
        // those it lost may be on the other side of a partition, rejoined at a successor.
        if (end.kind == RoundEnd::kRestart && options.failover != nullptr &&
            options.failover->hosting() &&
            !StoreFailover::Candidates(round->successors, options.store).empty()) {
          const int quorum = round->num_nodes() / 2 + 1;
          if (quorum > config.min_nodes) {
            Say("this node hosts the store: the next round needs " + std::to_string(quorum) +
                " of the last round's " + std::to_string(round->num_nodes()) +
                " node(s), more than half (the others may go on at a successor's store)");
          }
          rejoin_with(quorum);
        }
        min_round = round->id + 1;
        // Exponential backoff from the spec's base, so a crash loop does not spin.
        Milliseconds backoff = spec::ValidatedMillis(spec.failure_policy().backoff());
        for (int i = 1; i < restarts && backoff < kMaxBackoff; ++i) backoff *= 2;
        backoff = std::min(backoff, kMaxBackoff);
        const auto until = std::chrono::steady_clock::now() + backoff;
        while (!stop && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::min(Milliseconds(20), backoff));
        }
        if (stop) return StopCode();
        break;
      }
    }
  }
}

}  // namespace trainctl::agent
