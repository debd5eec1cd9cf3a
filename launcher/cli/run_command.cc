// trainctl run: the whole job on this machine. Hosts the store on loopback (or uses the job's
// etcd cluster), then runs one agent in this process (one node) or one agent process per node
// (--nnodes M).
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "agent.h"
#include "commands.h"
#include "job_outcome.h"
#include "job_setup.h"
#include "launch_commands.h"
#include "preemption.h"
#include "rendezvous.h"
#include "report_command.h"
#include "round_runner.h"
#include "status_line.h"
#include "store_endpoint.h"
#include "train/internal/job_keys.h"
#include "train/internal/process_environment.h"
#include "train/store.h"
#include "train/worker.h"
#include "worker_group.h"
#include "yaml_encoder.h"

namespace trainctl::cli {
namespace {

namespace fs = std::filesystem;
using agent::Terminal;

std::string SelfExe() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "trainctl" : self.string();
}

// This launch's store: the built-in one this process hosts, or the job's etcd cluster.
struct LaunchStore {
  std::unique_ptr<train::StoreServer> server;  // built-in only
  train::StoreAddress address;                 // built-in: the server; etcd: its first member
  std::string token_file;                      // built-in only
  std::optional<train::EtcdConfig> etcd;

  train::Result<std::unique_ptr<train::Store>> Connect(const std::string& job) const {
    return agent::ConnectJobStore(address, token_file, etcd, job);
  }
  // A new launch starts from no keys, and leaves none: an etcd cluster keeps them otherwise.
  train::Status ClearEtcdKeys(const std::string& job) const {
    if (!etcd) return train::Status::Ok();
    TRAIN_ASSIGN_OR_RETURN(train::EtcdOptions options, train::JobEtcdOptions(*etcd, job));
    return train::DeleteEtcdPrefix(options).status().WithContext(
        "cannot clear the job's keys under " + options.key_prefix);
  }
};

// The exit code of the job's outcome, as its agents recorded it; nullopt when none did.
std::optional<int> RecordedExitCode(const LaunchStore& store, const std::string& job) {
  auto client = store.Connect(job);
  if (!client.ok()) return std::nullopt;
  auto job_store = train::NewPrefixStore(train::internal::JobKeyPrefix(job), client->get());
  return agent::RecordedExitCode(job_store.get());
}

// The agents trainctl run starts: --local-nodes, else nodes.min. An elastic job (--nnodes 1:2)
// starts as torchrun started once on one machine does: with its minimum, after the
// rendezvous' last call; more may join.
int LocalNodes(const trainctl::v1alpha1::TrainingJobSpec& spec, const JobFlags& flags) {
  return flags.local_nodes > 0 ? flags.local_nodes : spec.nodes().min();
}

// "2", or "1 (elastic 1:2)" for the start line: the nodes started here, and the spec's range.
std::string NodeCount(const trainctl::v1alpha1::TrainingJobSpec& spec, int local_nodes) {
  const std::string here = std::to_string(local_nodes);
  if (spec.nodes().min() == spec.nodes().max()) return here;
  return here + " (elastic " + std::to_string(spec.nodes().min()) + ":" +
         std::to_string(spec.nodes().max()) + ")";
}

// --rdzv-endpoint HOST:PORT: where the built-in store listens (torchrun's c10d endpoint).
train::Result<train::StoreAddress> StoreListenAddress(const std::string& endpoint) {
  TRAIN_ASSIGN_OR_RETURN(train::StoreAddress address,
                         train::StoreAddress::Parse(endpoint, "--rdzv-endpoint"));
  if (address.host == "localhost") address.host = "127.0.0.1";
  return address;
}

// Runs LocalNodes() agent processes of this very binary, each one node of the job.
int RunAgentProcesses(const PreparedJob& prepared, const RunDir& run, const LaunchStore& store,
                      int local_nodes, Terminal* terminal) {
  const std::string& run_dir = run.path();
  // The agents read the job exactly as resolved here (working directory made absolute).
  trainctl::v1alpha1::TrainingJob job = prepared.job;
  job.mutable_spec()->set_working_dir(prepared.working_dir);
  const std::string job_file = (fs::path(run_dir) / "job.yaml").string();
  std::ofstream(job_file) << spec::EncodeYaml(job);

  std::vector<agent::WorkerSpec> specs;
  for (int node = 0; node < local_nodes; ++node) {
    agent::WorkerSpec s;
    s.rank = node;
    s.argv = {SelfExe(), "agent", job_file};
    if (store.etcd) {
      // The job file names the cluster; this process reads the outcome, then clears the keys.
      s.argv.push_back("--keep-job-keys");
    } else {
      s.argv.insert(s.argv.end(),
                    {"--store", store.address.ToString(), "--token-file", store.token_file});
    }
    s.argv.insert(s.argv.end(), {"--node-rank", std::to_string(node), "--run-dir", run_dir,
                                 "--launch-id", run.launch_id()});
    s.env = train::internal::ProcessEnvironment();
    specs.push_back(std::move(s));
  }
  auto group = agent::WorkerGroup::Start(std::move(specs), terminal);
  if (!group.ok()) {
    std::cerr << "trainctl run: cannot start the agents: " << group.status().message() << "\n";
    return agent::kExitAgentError;
  }
  std::atomic<int> stop_signal{0};
  std::atomic<bool> forced{false};
  SignalWatcher signals([&](int signal, int count) {
    stop_signal = signal;
    forced = forced || count > 1;
    // The agents give their workers the preemption grace to save; a second signal kills
    // everything at once.
    (*group)->Signal(count == 1 ? signal : SIGKILL);
  });
  int first_failure = 0;
  while ((*group)->running() > 0) {
    auto exit = (*group)->WaitAny(std::chrono::milliseconds(200));
    if (exit && !exit->success() && first_failure == 0) first_failure = exit->ShellCode();
  }
  if (stop_signal != 0) return agent::StopExitCode(stop_signal, forced);
  // A lost agent (chaos kill-agent, an OOM kill) fails its own process, but an elastic job may
  // go on without its node: the outcome the remaining agents recorded is the job's.
  if (auto code = RecordedExitCode(store, job.metadata().name())) return *code;
  return first_failure;
}

}  // namespace

int RunJob(const JobFlags& flags) {
  BlockStopSignals();
  std::signal(SIGPIPE, SIG_IGN);  // a closed terminal pipe must not kill the job
  auto prepared = PrepareJob(flags);
  std::optional<train::StoreAddress> listen;  // --rdzv-endpoint with the built-in store
  if (prepared.ok() && !flags.rdzv_endpoint.empty()) {
    if (prepared->job.spec().rendezvous().backend() == "etcd") {
      JobFlags with_members = flags;  // torchrun's etcd endpoint: the cluster's members
      with_members.rdzv_store = flags.rdzv_endpoint;
      prepared = PrepareJob(with_members);
    } else if (auto address = StoreListenAddress(flags.rdzv_endpoint); address.ok()) {
      listen = *address;
    } else {
      prepared = address.status();
    }
  }
  if (!prepared.ok()) {
    std::cerr << "trainctl run: " << prepared.status().message();
    if (prepared.status().message().back() != '\n') std::cerr << "\n";
    return kExitUsage;
  }
  const auto& job = prepared->job;
  auto metrics_config = RunMetricsConfig(flags, job);
  if (!metrics_config.ok()) {
    std::cerr << "trainctl run: " << metrics_config.status().message() << "\n";
    return kExitUsage;
  }
  if (flags.local_nodes != -1 && (flags.local_nodes < job.spec().nodes().min() ||
                                  flags.local_nodes > job.spec().nodes().max())) {
    std::cerr << "trainctl run: --local-nodes " << flags.local_nodes << " is outside --nnodes "
              << job.spec().nodes().min() << ":" << job.spec().nodes().max()
              << " (spec.nodes); give a number from MIN to MAX\n";
    return kExitUsage;
  }
  LaunchStore store;
  store.etcd = agent::EtcdConfigOf(job.spec().rendezvous(), prepared->working_dir);
  if (!store.etcd && !flags.rdzv_store.empty()) {
    std::cerr << "trainctl run: --store names an etcd cluster (with --rdzv-backend etcd); the "
                 "built-in store is hosted by trainctl run itself: drop --store\n";
    return kExitUsage;
  }
  // Held until this function returns: no other launch uses or removes the directory meanwhile.
  auto run = RunDir::Claim(flags.run_dir, job.metadata().name());
  auto token = train::NewToken();
  if (!run.ok() || !token.ok()) {
    std::cerr << "trainctl run: " << (run.ok() ? token.status() : run.status()).message() << "\n";
    return agent::kExitAgentError;
  }
  const std::string* run_dir = &(*run)->path();
  if (store.etcd) {
    auto first = train::ParseEtcdEndpoint(store.etcd->endpoints.front(), "endpoints");
    if (first.ok()) store.address = *first;
  } else {
    store.token_file = (fs::path(*run_dir) / "token").string();
    if (auto written = WriteTokenFile(store.token_file, *token); !written.ok()) {
      std::cerr << "trainctl run: " << written.message() << "\n";
      return agent::kExitAgentError;
    }
    const train::StoreServerOptions defaults;
    auto server = train::StoreServer::Start(agent::JobStoreServerOptions(
        listen ? listen->host : defaults.host, listen ? listen->port : defaults.port, *token));
    if (!server.ok()) {
      std::cerr << "trainctl run: cannot host the store: " << server.status().message() << "\n";
      return agent::kExitAgentError;
    }
    store.server = std::move(*server);
    store.address = store.server->address();
  }
  auto publish = [&]() -> train::Status {
    TRAIN_RETURN_IF_ERROR(store.ClearEtcdKeys(job.metadata().name()));
    TRAIN_ASSIGN_OR_RETURN(auto client, store.Connect(job.metadata().name()));
    return PublishMetricsConfig(*metrics_config, job.metadata().name(), client.get());
  };
  if (auto published = publish(); !published.ok()) {
    std::cerr << "trainctl run: " << published.message() << "\n";
    return agent::kExitAgentError;
  }
  Terminal terminal;
  const auto& spec = job.spec();
  terminal.WriteLine("trainctl: job " + job.metadata().name() + ": " +
                     NodeCount(spec, LocalNodes(spec, flags)) + " node(s) x " +
                     std::to_string(spec.procs_per_node()) + " worker(s); logs in " + *run_dir);
  StatusLine status(
      &terminal, [&store, &job] { return store.Connect(job.metadata().name()); },
      job.metadata().name());

  int code;
  if (LocalNodes(spec, flags) == 1) {
    agent::AgentOptions options;
    options.job = job;
    options.working_dir = prepared->working_dir;
    options.store = store.address;
    options.token_file = store.token_file;
    options.etcd = store.etcd;
    options.run_dir = *run_dir;
    options.launch_id = (*run)->launch_id();
    agent::Agent node(std::move(options), &terminal);
    SignalWatcher signals([&](int signal, int count) { node.RequestStop(signal, count > 1); });
    code = node.Run();
  } else {
    code = RunAgentProcesses(*prepared, **run, store, LocalNodes(spec, flags), &terminal);
  }
  status.Stop();
  PrintRunSummary(*run_dir, &terminal);
  if (store.server) store.server->Stop();
  if (auto cleared = store.ClearEtcdKeys(job.metadata().name()); !cleared.ok()) {
    terminal.WriteLine("trainctl: " + cleared.message());
  }
  return code;
}

}  // namespace trainctl::cli
