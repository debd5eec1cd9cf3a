// trainctl agent: one node of a multi-host job (the same Agent as `trainctl run`).
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "agent.h"
#include "commands.h"
#include "duration.h"
#include "job_setup.h"
#include "launch_commands.h"
#include "rendezvous.h"
#include "store_endpoint.h"
#include "store_failover.h"
#include "train/internal/job_keys.h"
#include "train/internal/process_environment.h"
#include "train/store.h"
#include "train/worker.h"

namespace trainctl::cli {
namespace {

namespace fs = std::filesystem;

int Usage(const std::string& message) {
  std::cerr << "trainctl agent: " << message << "\n";
  return kExitUsage;
}

// The store must outlive the other agents' last look at it: the hosting agent waits until
// every node of the last round said it is leaving, or the heartbeat timeout passes.
void LingerForPeers(train::Store* job_store, int nodes, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    auto left = job_store->Add("left", 0);
    if (!left.ok() || *left >= nodes) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int RunAgent(const AgentFlags& given) {
  BlockStopSignals();
  std::signal(SIGPIPE, SIG_IGN);
  AgentFlags flags = given;
  // `--host-store JOB.yaml`: the bare flag took the job file as its value; give it back.
  if (flags.job.job_file.empty() && !flags.host_store.empty() && flags.host_store != "auto" &&
      flags.host_store != "true" && flags.host_store != "false") {
    flags.job.job_file = flags.host_store;
    flags.host_store = "true";
  }
  // With --rdzv-backend etcd, --store names the etcd members; otherwise the built-in store's
  // address (a rendered pod passes node 0's, which a spec with backend etcd does not use).
  const bool etcd_flag = flags.job.rdzv_backend == "etcd" || flags.job.rdzv_backend == "etcd-v2";
  if (etcd_flag) flags.job.rdzv_store = flags.store;
  auto prepared = PrepareJob(flags.job);
  if (!prepared.ok()) {
    std::cerr << "trainctl agent: " << prepared.status().message();
    if (prepared.status().message().back() != '\n') std::cerr << "\n";
    return kExitUsage;
  }
  if (!flags.job_id.empty()) prepared->job.mutable_metadata()->set_name(flags.job_id);
  const std::optional<train::EtcdConfig> etcd =
      agent::EtcdConfigOf(prepared->job.spec().rendezvous(), prepared->working_dir);
  auto endpoint = agent::ResolveEndpoint(
      {flags.store, flags.node_rank, flags.token_file, flags.host_store, etcd.has_value()},
      train::internal::ProcessEnvironment());
  if (!endpoint.ok()) return Usage(endpoint.status().message());
  train::StoreAddress address = endpoint->store;
  if (etcd && !etcd_flag && !flags.store.empty()) {
    std::cerr << "trainctl agent: the job's store is in etcd (spec.rendezvous.endpoints); --store "
              << flags.store << " is not used\n";
  }
  if (etcd) {
    auto first = train::ParseEtcdEndpoint(etcd->endpoints.front(), "spec.rendezvous.endpoints");
    if (!first.ok()) return Usage(first.status().message());
    address = *first;
  }
  const int node_rank = endpoint->node_rank;
  // The built-in store's token (an etcd store has its own authentication).
  std::string token;
  if (!etcd || !endpoint->token_file.empty()) {
    auto read = train::ReadTokenFile(endpoint->token_file);
    if (!read.ok()) return Usage(read.status().message());
    token = *read;
  }

  std::unique_ptr<train::StoreServer> server;
  // Every agent of a built-in store may host it (a successor, docs/store.md).
  auto bind =
      agent::ResolveStoreBind(flags.store_bind, address, train::internal::ProcessEnvironment());
  if (!etcd && !bind.ok()) return Usage(bind.status().message());
  if (endpoint->host_store) {
    auto started =
        train::StoreServer::Start(agent::JobStoreServerOptions(*bind, address.port, token));
    if (!started.ok()) {
      std::cerr << "trainctl agent: cannot host the store: " << started.status().message() << "\n";
      return agent::kExitAgentError;
    }
    server = std::move(*started);
  }
  // Every agent of a built-in store that binds an address of its own could host it next,
  // there, at the store's port (the first host publishes nothing: that address is the store's
  // own). One that binds every interface (a pod, where a replacement pod 0 takes the store's
  // name back) publishes nothing and waits for the store at its own address.
  std::unique_ptr<agent::StoreFailover> failover;
  if (!etcd) {
    agent::FailoverOptions failover_options;
    failover_options.token = token;
    if (!endpoint->host_store && *bind != "0.0.0.0" && *bind != "::") {
      failover_options.bind_host = *bind;
      failover_options.store_at =
          agent::PublishedStoreAddress(*bind, agent::ThisHostName(), address.port);
    }
    const auto timeout =
        spec::ValidatedMillis(prepared->job.spec().rendezvous().heartbeat_timeout());
    failover_options.grace = std::max(2 * timeout, std::chrono::milliseconds(10000));
    failover = std::make_unique<agent::StoreFailover>(failover_options, nullptr);
  }
  auto run = RunDir::Claim(flags.job.run_dir, prepared->job.metadata().name(), flags.launch_id);
  if (!run.ok()) {
    std::cerr << "trainctl agent: " << run.status().message() << "\n";
    return agent::kExitAgentError;
  }
  agent::AgentOptions options;
  options.job = prepared->job;
  options.working_dir = prepared->working_dir;
  options.store = address;
  options.token_file =
      endpoint->token_file.empty() ? "" : fs::absolute(endpoint->token_file).string();
  options.etcd = etcd;
  options.node_rank_hint = node_rank;
  options.run_dir = (*run)->path();
  options.launch_id = (*run)->launch_id();
  options.failover = failover.get();
  agent::Terminal terminal;
  if (server != nullptr) {
    terminal.WriteLine("trainctl: this node hosts the store on " + server->address().ToString() +
                       " (" + endpoint->store_source + " names it " + address.ToString() + ")");
  }
  if (failover != nullptr) failover->Adopt(std::move(server));
  agent::Agent node(options, &terminal);
  SignalWatcher signals([&](int signal, int count) { node.RequestStop(signal, count > 1); });
  const int code = node.Run();

  // Say this node is leaving; the hosting node waits for the others to say so too.
  const std::string& job_id = options.job.metadata().name();
  const bool hosting = server != nullptr || (failover != nullptr && failover->hosting());
  if (failover != nullptr && failover->current()) address = *failover->current();
  auto client = agent::ConnectJobStore(address, options.token_file, etcd, job_id);
  if (client.ok()) {
    auto job_store = train::NewPrefixStore(train::internal::JobKeyPrefix(job_id), client->get());
    auto left = job_store->Add("left", 1);
    if (hosting) {
      LingerForPeers(job_store.get(), node.last_round_nodes(), std::chrono::milliseconds(5000));
    }
    // The last node out of an etcd job removes its keys, so that the job can run again.
    const int nodes = node.last_round_nodes();
    if (etcd && !flags.keep_job_keys && nodes > 0 && left.ok() && *left >= nodes) {
      if (auto options_of = train::JobEtcdOptions(*etcd, job_id); options_of.ok()) {
        (void)train::DeleteEtcdPrefix(*options_of);
      }
    }
  }
  return code;
}

}  // namespace trainctl::cli
