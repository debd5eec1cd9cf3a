// trainctl agent: one node of a multi-host job (the same Agent as `trainctl run`).
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "agent.h"
#include "commands.h"
#include "job_setup.h"
#include "launch_commands.h"
#include "rendezvous.h"
#include "store_endpoint.h"
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
  auto endpoint =
      agent::ResolveEndpoint({flags.store, flags.node_rank, flags.token_file, flags.host_store},
                             train::ProcessEnvironment());
  if (!endpoint.ok()) return Usage(endpoint.status().message());
  const train::StoreAddress& address = endpoint->store;
  const int node_rank = endpoint->node_rank;
  auto prepared = PrepareJob(flags.job);
  if (!prepared.ok()) {
    std::cerr << "trainctl agent: " << prepared.status().message();
    if (prepared.status().message().back() != '\n') std::cerr << "\n";
    return kExitUsage;
  }
  if (!flags.job_id.empty()) prepared->job.mutable_metadata()->set_name(flags.job_id);
  auto token = train::ReadTokenFile(endpoint->token_file);
  if (!token.ok()) return Usage(token.status().message());

  std::unique_ptr<train::StoreServer> server;
  if (endpoint->host_store) {
    auto bind = agent::ResolveStoreBind(flags.store_bind, address, train::ProcessEnvironment());
    if (!bind.ok()) return Usage(bind.status().message());
    train::StoreServerOptions options;
    options.host = *bind;
    options.port = address.port;
    options.token = *token;
    auto started = train::StoreServer::Start(options);
    if (!started.ok()) {
      std::cerr << "trainctl agent: cannot host the store: " << started.status().message() << "\n";
      return agent::kExitAgentError;
    }
    server = std::move(*started);
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
  options.token_file = fs::absolute(endpoint->token_file).string();
  options.node_rank_hint = node_rank;
  options.run_dir = (*run)->path();
  options.launch_id = (*run)->launch_id();
  agent::Terminal terminal;
  if (server != nullptr) {
    terminal.WriteLine("trainctl: this node hosts the store on " + server->address().ToString() +
                       " (" + endpoint->store_source + " names it " + address.ToString() + ")");
  }
  agent::Agent node(options, &terminal);
  SignalWatcher signals([&](int signal, int count) { node.RequestStop(signal, count > 1); });
  const int code = node.Run();

  // Say this node is leaving; the hosting node waits for the others to say so too.
  auto client = train::ConnectStore(address, *token);
  if (client.ok()) {
    auto job_store =
        train::NewPrefixStore(train::JobKeyPrefix(options.job.metadata().name()), client->get());
    (void)job_store->Add("left", 1);
    if (server != nullptr) {
      LingerForPeers(job_store.get(), node.last_round_nodes(), std::chrono::milliseconds(5000));
    }
  }
  return code;
}

}  // namespace trainctl::cli
