// trainctl run and trainctl agent: their flags (and torchrun's), help, and the dispatch to
// RunJob and RunAgent.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "job_watchdog.h"
#include "launch_commands.h"
#include "torchrun_options.h"
#include "train/internal/process_environment.h"
#include "train/log.h"

namespace trainctl::cli {
namespace {

constexpr char kRunFooter[] = R"(
Examples:
  trainctl run examples/jobs/fashion-mnist.yaml          a job file
  trainctl run --nproc 2 train.py --epochs 3              a script, run by Python as torchrun does
  trainctl run --nproc_per_node=2 -m pkg.train --lr 0.1   a module (torchrun's spellings work)
  trainctl run --nproc auto -- ./train --epochs 3         a program: one worker per GPU, else CPU
  trainctl run --nnodes 2 --nproc 2 train.py              2 nodes (agent processes) here
  trainctl agent job.yaml --store node0:29400 --node-rank 1 --token-file T   one node of many
A script runs with --python, else $TRAINCTL_PYTHON, else $VIRTUAL_ENV/bin/python, else
/usr/bin/python3, else python3 on PATH (a bare python/python3 after -- too); --no-python runs
it itself. torchrun's flags and what they become: docs/launcher.md, "Coming from torchrun".

Each worker gets the TRAIN_* variables (docs/env.md) and the torch names (RANK, WORLD_SIZE,
MASTER_ADDR, ..., and what torchrun sets: OMP_NUM_THREADS, TORCHELASTIC_*, ROLE_*; docs/env.md).
Python workers start unbuffered (PYTHONUNBUFFERED=1). Output is prefixed with the rank and kept in RUN_DIR/rank-N.log.
SIGTERM or Ctrl-C stops every worker (SIGTERM, then SIGKILL after spec.failurePolicy.
preemptionGrace, 30s by default, for them to save their step); a second one kills at once.
Exit code: 0; the first failing worker's code (128+N when killed by signal N); 75 when SIGTERM
stopped the job (preempted: --resume continues it); 130 for Ctrl-C; 128+N after a second
signal.)";

constexpr char kAgentFooter[] = R"(
Examples:
  trainctl agent job.yaml --store node0:29400 --host-store --token-file /etc/train/token   # node 0
  trainctl agent job.yaml --store node0:29400 --node-rank 1 --token-file /etc/train/token
  # in a Kubernetes pod, as trainctl render writes it (pod 0 hosts the store):
  trainctl agent /etc/trainctl/spec/job.yaml --store job-0.job:29400 \
      --node-rank $(TRAINCTL_NODE_RANK) --host-store auto --token-file /etc/trainctl/token/token

Flags first, then TRAINCTL_STORE, TRAINCTL_NODE_RANK, TRAINCTL_TOKEN_FILE, TRAINCTL_HOST_STORE,
then MASTER_ADDR:MASTER_PORT and RANK (a PyTorchJob). Until spec.rendezvous.joinTimeout the
agent waits for a store whose name does not resolve yet or that does not listen yet, saying
why now and then (docs/launcher.md, "In a Kubernetes pod").
SIGTERM (an eviction, a drain) gives the workers spec.failurePolicy.preemptionGrace to save
their step, then the agent exits 75 and the other nodes restart without spending a restart.)";

// The watchdog that kills whatever the job started when this process ends, SIGKILL included
// (docs/launcher.md, "Process lifetime"). It is forked without exec, so it must be started here,
// before the store, the agent or a signal watcher start threads.
std::unique_ptr<agent::JobWatchdog> StartJobWatchdog() {
  auto watchdog = agent::JobWatchdog::Start({});
  if (!watchdog.ok()) {
    train::LogWarning("trainctl: " + watchdog.status().message() +
                      "; processes the workers start may outlive trainctl if it is killed");
    return nullptr;
  }
  if ((*watchdog)->cgroup_dir().empty()) {
    train::LogInfo("trainctl: " + (*watchdog)->description());
  } else {
    train::LogDebug("trainctl: " + (*watchdog)->description());
  }
  return std::move(watchdog).value();
}

// Registers what run and agent share: the job file, torchrun's flags and the job's overrides.
void AddJobFlags(CLI::App* command, bool is_agent, JobFlags* job_flags,
                 TorchrunFlags* torchrun_flags) {
  command->add_option("JOB", job_flags->job_file, "TrainingJob file (YAML or JSON)");
  AddTorchrunOptions(command, is_agent, torchrun_flags);
  SetLaunchUsage(command);
  command->add_option("--nnodes", job_flags->nnodes,
                      "Nodes: N, or MIN:MAX for an elastic job (spec.nodes); trainctl run "
                      "starts MIN here");
  command->add_option("--max-restarts,--max_restarts", job_flags->max_restarts,
                      "Group restarts allowed (spec.failurePolicy.maxRestarts)");
  command->add_option("--backoff", job_flags->backoff,
                      "Wait before a restart, doubling each time, e.g. 500ms "
                      "(spec.failurePolicy.backoff)");
  command->add_option("--run-dir", job_flags->run_dir,
                      "Where per-rank logs and the token go (default runs/JOB/TIMESTAMP, a "
                      "new one per run); refused while another run uses it");
  command->add_flag("--resume{always}", job_flags->resume,
                    "Continue an earlier run: the bare flag resumes the newest checkpoint an "
                    "earlier run left under spec.checkpoint.dir; --resume=PATH resumes that "
                    "checkpoint directory or DIR/step-N; --resume=never|auto|always sets "
                    "spec.checkpoint.resume. Default: a new run starts at step 0");
  command->add_option("--working-dir", job_flags->working_dir,
                      "Where workers start, relative to the current directory (overrides "
                      "spec.workingDir, which is relative to the spec file)");
  command->add_option("--rdzv-backend,--rdzv_backend", job_flags->rdzv_backend,
                      "The store: builtin (also c10d, static) or etcd (also etcd-v2), whose "
                      "members --store lists (spec.rendezvous.backend; docs/store.md)");
}

}  // namespace

CommandRunner AddLaunchCommands(CLI::App* app, std::vector<char*>* args) {
  struct Flags {
    JobFlags job;
    TorchrunFlags torchrun;
    AgentFlags agent;
  };
  auto flags = std::make_shared<Flags>();
  auto* run = app->add_subcommand(
      "run",
      "Run a job on this machine: the store on loopback, one agent per node, workers "
      "restarted as a group on failure. Give a JOB.yaml, a script (as torchrun), or a "
      "command after --. Flags override the spec.");
  AddJobFlags(run, false, &flags->job, &flags->torchrun);
  run->add_option("--chaos", flags->job.chaos,
                  "Inject a fault once: kill|stop|kill-agent:rank=R:step=S (repeatable; "
                  "docs/launcher.md)")
      ->allow_extra_args(false);
  run->add_option("--store", flags->job.rdzv_store,
                  "With --rdzv-backend etcd: the cluster's members, HOST:PORT[,HOST:PORT...] "
                  "(spec.rendezvous.endpoints)");
  run->add_option("--local-nodes", flags->job.local_nodes,
                  "Agents (nodes) to start here, from MIN to MAX of --nnodes (default MIN, as "
                  "torchrun started once is one node); more rehearse an elastic job's losses");
  run->add_option("--metrics-port", flags->job.metrics_port,
                  "Serve Prometheus /metrics here (node K: port+K; default 0: any free port)");
  run->footer(kRunFooter);

  auto* agent = app->add_subcommand(
      "agent",
      "Run one node of a multi-host job: join the rendezvous at --store, run this "
      "node's workers, restart them with the others");
  AddJobFlags(agent, true, &flags->job, &flags->torchrun);
  agent->add_option("--store", flags->agent.store,
                    "The job's store, HOST:PORT (else $TRAINCTL_STORE, else "
                    "$MASTER_ADDR:$MASTER_PORT); with --rdzv-backend etcd, the cluster's "
                    "members HOST:PORT[,HOST:PORT...]");
  agent
      ->add_flag("--keep-job-keys", flags->agent.keep_job_keys,
                 "Leave the job's keys in etcd at exit (trainctl run clears them itself)")
      ->group("");
  agent
      ->add_option_function<std::string>(
          "--host-store",
          [flags](const std::string& mode) {
            flags->agent.host_store = mode.empty() ? "true" : mode;
          },
          "Serve the store on --store's port: auto (when this node's rank is 0), true (the "
          "bare flag) or false (else $TRAINCTL_HOST_STORE; default false)")
      ->expected(0, 1);
  agent->add_option("--store-bind", flags->agent.store_bind,
                    "Where a hosted store listens, when not --store's host: a numeric address, "
                    "e.g. 0.0.0.0 for every interface (else $TRAINCTL_STORE_BIND; default: "
                    "--store's host when it is an IP address, else 0.0.0.0)");
  agent->add_option("--node-rank,--node_rank", flags->agent.node_rank,
                    "This node's place in node order, or auto (join order) (else "
                    "$TRAINCTL_NODE_RANK, else $RANK)");
  agent->add_option("--token-file", flags->agent.token_file,
                    "File holding the job's token, the same on every node (else "
                    "$TRAINCTL_TOKEN_FILE)");
  agent->add_option("--job-id", flags->agent.job_id, "The job's id (default: metadata.name)");
  agent->add_option("--launch-id", flags->agent.launch_id,
                    "This launch's id, the same for every agent of the launch (default: the "
                    "agents settle one in their first round)");
  agent->footer(kAgentFooter);

  // The quick form's command (a script, or a program after "--") is split off before parsing.
  SplitCommand(run, agent, args, &flags->job.command);

  return [=]() -> std::optional<int> {
    if (!run->parsed() && !agent->parsed()) return std::nullopt;
    const char* name = run->parsed() ? "run" : "agent";
    auto notes = ApplyTorchrunFlags(flags->torchrun, train::internal::ProcessEnvironment(),
                                    &flags->job, agent->parsed() ? &flags->agent : nullptr);
    if (!notes.ok()) {
      std::cerr << "trainctl " << name << ": " << notes.status().message() << "\n";
      return kExitUsage;
    }
    for (const std::string& note : *notes) std::cerr << note << "\n";
    const auto watchdog = StartJobWatchdog();
    if (run->parsed()) return RunJob(flags->job);
    flags->agent.job = flags->job;
    return RunAgent(flags->agent);
  };
}

}  // namespace trainctl::cli
