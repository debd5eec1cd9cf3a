// trainctl run: the whole job on this machine. Hosts the store on loopback, then runs one
// agent in this process (one node) or one agent process per node (--nnodes M).
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "agent.h"
#include "commands.h"
#include "job_setup.h"
#include "launch_commands.h"
#include "rendezvous.h"
#include "report_command.h"
#include "round_runner.h"
#include "status_line.h"
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

// How the job ended, as its agents recorded it in the store; nullopt when none did.
std::optional<std::string> JobOutcome(const train::StoreAddress& store,
                                      const std::string& token_file, const std::string& job) {
  auto token = train::ReadTokenFile(token_file);
  if (!token.ok()) return std::nullopt;
  auto client = train::ConnectStore(store, *token);
  if (!client.ok()) return std::nullopt;
  auto job_store = train::NewPrefixStore(train::JobKeyPrefix(job), client->get());
  auto outcome = job_store->TryGet(agent::kOutcomeKey);
  if (!outcome.ok()) return std::nullopt;
  return *outcome;
}

// Runs `nodes` agent processes of this very binary, each one node of the job.
int RunAgentProcesses(const PreparedJob& prepared, const RunDir& run,
                      const train::StoreAddress& store, const std::string& token_file,
                      Terminal* terminal) {
  const std::string& run_dir = run.path();
  // The agents read the job exactly as resolved here (working directory made absolute).
  trainctl::v1alpha1::TrainingJob job = prepared.job;
  job.mutable_spec()->set_working_dir(prepared.working_dir);
  const std::string job_file = (fs::path(run_dir) / "job.yaml").string();
  std::ofstream(job_file) << spec::EncodeYaml(job);

  std::vector<agent::WorkerSpec> specs;
  for (int node = 0; node < job.spec().nodes().max(); ++node) {
    agent::WorkerSpec s;
    s.rank = node;
    s.argv = {SelfExe(),      "agent",          job_file,
              "--store",      store.ToString(), "--token-file",
              token_file,     "--node-rank",    std::to_string(node),
              "--run-dir",    run_dir,          "--launch-id",
              run.launch_id()};
    s.env = train::ProcessEnvironment();
    specs.push_back(std::move(s));
  }
  auto group = agent::WorkerGroup::Start(std::move(specs), terminal);
  if (!group.ok()) {
    std::cerr << "trainctl run: cannot start the agents: " << group.status().message() << "\n";
    return agent::kExitAgentError;
  }
  std::atomic<int> stop_signal{0};
  SignalWatcher signals([&](int signal, int count) {
    stop_signal = signal;
    // The agents stop their workers gracefully; a second Ctrl-C kills everything at once.
    (*group)->Signal(count == 1 ? signal : SIGKILL);
  });
  int first_failure = 0;
  while ((*group)->running() > 0) {
    auto exit = (*group)->WaitAny(std::chrono::milliseconds(200));
    if (exit && !exit->success() && first_failure == 0) first_failure = exit->ShellCode();
  }
  if (stop_signal != 0) return 128 + stop_signal;
  // A lost agent (chaos kill-agent, an OOM kill) fails its own process, but an elastic job may
  // go on without its node: the outcome the remaining agents recorded is the job's.
  if (auto outcome = JobOutcome(store, token_file, job.metadata().name())) {
    return agent::OutcomeExitCode(*outcome);
  }
  return first_failure;
}

}  // namespace

int RunJob(const JobFlags& flags) {
  BlockStopSignals();
  std::signal(SIGPIPE, SIG_IGN);  // a closed terminal pipe must not kill the job
  auto prepared = PrepareJob(flags);
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
  // Held until this function returns: no other launch uses or removes the directory meanwhile.
  auto run = RunDir::Claim(flags.run_dir, job.metadata().name());
  auto token = train::NewToken();
  if (!run.ok() || !token.ok()) {
    std::cerr << "trainctl run: " << (run.ok() ? token.status() : run.status()).message() << "\n";
    return agent::kExitAgentError;
  }
  const std::string* run_dir = &(*run)->path();
  const std::string token_file = (fs::path(*run_dir) / "token").string();
  if (auto written = WriteTokenFile(token_file, *token); !written.ok()) {
    std::cerr << "trainctl run: " << written.message() << "\n";
    return agent::kExitAgentError;
  }
  train::StoreServerOptions server_options;
  server_options.token = *token;
  auto server = train::StoreServer::Start(server_options);
  if (!server.ok()) {
    std::cerr << "trainctl run: cannot host the store: " << server.status().message() << "\n";
    return agent::kExitAgentError;
  }
  if (auto published = PublishMetricsConfig(*metrics_config, job.metadata().name(),
                                            (*server)->address(), *token);
      !published.ok()) {
    std::cerr << "trainctl run: " << published.message() << "\n";
    return agent::kExitAgentError;
  }
  Terminal terminal;
  const auto& spec = job.spec();
  terminal.WriteLine("trainctl: job " + job.metadata().name() + ": " +
                     std::to_string(spec.nodes().max()) + " node(s) x " +
                     std::to_string(spec.procs_per_node()) + " worker(s); logs in " + *run_dir);
  StatusLine status(&terminal, (*server)->address(), *token, job.metadata().name());

  int code;
  if (spec.nodes().max() == 1) {
    agent::AgentOptions options;
    options.job = job;
    options.working_dir = prepared->working_dir;
    options.store = (*server)->address();
    options.token_file = token_file;
    options.run_dir = *run_dir;
    options.launch_id = (*run)->launch_id();
    agent::Agent node(std::move(options), &terminal);
    SignalWatcher signals([&](int signal, int count) { node.RequestStop(signal, count > 1); });
    code = node.Run();
  } else {
    code = RunAgentProcesses(*prepared, **run, (*server)->address(), token_file, &terminal);
  }
  status.Stop();
  PrintRunSummary(*run_dir, &terminal);
  (*server)->Stop();
  return code;
}

}  // namespace trainctl::cli
