// trainctl: the command line. Parses flags with CLI11 and dispatches to commands.h.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "ckpt_command.h"
#include "commands.h"
#include "data_commands.h"
#include "job_watchdog.h"
#include "k8s_commands.h"
#include "launch_commands.h"
#include "report_command.h"
#include "torchrun_options.h"
#include "train/env.h"
#include "train/internal/process_environment.h"
#include "train/log.h"

namespace {

constexpr char kDescription[] =
    "trainctl runs distributed training jobs: it expands a TrainingJob spec (YAML) into\n"
    "indexed workers that meet at a rendezvous, on this machine, on several hosts, or on\n"
    "Kubernetes.";

constexpr char kFooter[] = R"(
Examples:
  trainctl run examples/jobs/fashion-mnist.yaml   run a job on this machine
  trainctl run --nproc 4 -- ./train --epochs 3    the quick form: 4 workers of a command
  trainctl run --nproc 2 train.py --lr 0.1        a Python script, as torchrun runs it
  trainctl run --nproc 2 --nnodes 2 -- ./train    2 agents (nodes) of 2 workers, here
  trainctl validate examples/jobs/*.yaml     check specs; every error with file:line:col
  trainctl explain spec.rendezvous           document a field (like kubectl explain)
  trainctl defaults job.yaml                 the spec with every default filled in
  trainctl version                           versions, and the GPUs this build can use
  trainctl data import idx --images I.gz --labels L.gz -o fashion-mnist.h5   IDX to HDF5
  trainctl data inspect fashion-mnist.h5     fields, shapes, dtypes, chunks
  trainctl data plan --samples 60000 --world 4 --rank 1 --seed 7   a rank's samples
  trainctl ckpt ls /ckpt/job                 a job's checkpoints, the latest marked
  trainctl ckpt verify /ckpt/job             check every checkpoint's files and checksums
  trainctl render job.yaml | kubectl apply -f -   Kubernetes objects (Job, JobSet, PyTorchJob)
  trainctl submit job.yaml; trainctl status NAME; trainctl logs NAME -f; trainctl delete NAME

Exit codes: 0 success, 1 failure (an invalid spec, a failed check), 2 usage error.
run and agent exit with the first failing worker's code (128+N when killed by signal N),
75 when SIGTERM stopped them after the workers had spec.failurePolicy.preemptionGrace to save
their step (preempted: run again to resume), 128+N for another stop by signal N.
Run `trainctl COMMAND --help` for a command's flags.)";

}  // namespace

namespace {

// A store that serves many agents needs a descriptor per connection: use all the process may.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The watchdog that kills whatever the job started when this process ends, SIGKILL included
// (docs/launcher.md, "Process lifetime"). It is forked without exec, so it must be started here,
// before the store, the agent or a signal watcher start threads.
std::unique_ptr<trainctl::agent::JobWatchdog> StartJobWatchdog() {
  auto watchdog = trainctl::agent::JobWatchdog::Start({});
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

}  // namespace

int main(int argc, char** argv) {
  using namespace trainctl::cli;
  RaiseOpenFileLimit();
  CLI::App app(kDescription, "trainctl");
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print the help of every command");

  std::vector<std::string> files;
  bool quiet = false;
  auto* validate =
      app.add_subcommand("validate",
                         "Check TrainingJob files: unknown fields, types, and semantic rules, all "
                         "errors at once (exit 0 valid, 1 invalid, 2 usage)");
  validate->add_option("FILE", files, "TrainingJob files (YAML or JSON)")->required();
  validate->add_flag("-q,--quiet", quiet, "Print errors only");

  std::string field_path;
  auto* explain = app.add_subcommand(
      "explain",
      "Document a field of the TrainingJob spec: its type, meaning, default, and "
      "the fields below it");
  explain->add_option("FIELD", field_path,
                      "Dotted field path, e.g. spec, spec.rendezvous.heartbeat (default: the "
                      "whole TrainingJob)");

  std::string defaults_file;
  auto* defaults =
      app.add_subcommand("defaults", "Print a TrainingJob with every default filled in, as YAML");
  defaults->add_option("FILE", defaults_file, "TrainingJob file (YAML or JSON)")->required();

  auto* version = app.add_subcommand("version", "Print versions and the GPUs this build can use");

  auto* data =
      app.add_subcommand("data", "Datasets: import to HDF5, inspect, plan a job's sharding");
  data->require_subcommand(1);
  PlanFlags plan_flags;
  auto* plan = data->add_subcommand(
      "plan",
      "Print, one per line, the sample indices rank R consumes from global cursor C to "
      "the end of epoch E (the order every trainctl job uses)");
  plan->add_option("--samples", plan_flags.samples, "Samples in the dataset (N)")->required();
  plan->add_option("--world", plan_flags.world, "Workers (W)")->required();
  plan->add_option("--rank", plan_flags.rank, "The rank to plan for (R)")->required();
  plan->add_option("--epoch", plan_flags.epoch, "Epoch (E)");
  plan->add_option("--seed", plan_flags.seed, "Shuffle seed (S)");
  plan->add_option("--cursor", plan_flags.cursor,
                   "Positions of the epoch all ranks consumed already (C)");
  plan->add_flag("--drop-last", plan_flags.drop_last,
                 "Equal counts per rank; skip the tail that does not divide");
  plan->add_flag("--pad", plan_flags.pad, "Equal counts per rank; repeat the epoch's start");
  plan->add_flag("--no-shuffle", plan_flags.no_shuffle, "Keep the dataset's order");

  // data import idx|csv, data inspect (data_commands.h).
  auto* data_import = data->add_subcommand(
      "import",
      "Convert files to HDF5: one dataset per field, rows along the first dimension, chunked "
      "and compressed; the output appears whole or not at all");
  data_import->require_subcommand(1);

  ImportIdxFlags idx_flags;
  auto* import_idx = data_import->add_subcommand(
      "idx",
      "IDX files (MNIST's format, gzip'd or not): images keep their type and shape, labels "
      "become int64 [N]");
  import_idx->add_option("--images", idx_flags.images, "Images (IDX file)")->required();
  import_idx->add_option("--labels", idx_flags.labels, "Labels (1-D IDX file), one per image")
      ->required();
  import_idx->add_option("-o,--output", idx_flags.output, "HDF5 file to write")->required();
  import_idx
      ->add_option(
          "--chunk-rows", idx_flags.chunk_rows,
          "Rows per chunk (default: a power of two, the most that fit in 32 KiB, at most 1024)")
      ->check(CLI::PositiveNumber);
  import_idx->add_option("--compression", idx_flags.compression, "Deflate level: 0 (none) to 9")
      ->check(CLI::Range(0, 9))
      ->capture_default_str();
  import_idx->add_option("--images-field", idx_flags.images_field, "Name of the images dataset")
      ->capture_default_str();
  import_idx->add_option("--labels-field", idx_flags.labels_field, "Name of the labels dataset")
      ->capture_default_str();
  import_idx->add_flag("--force", idx_flags.force, "Replace the output file if it exists");

  ImportCsvFlags csv_flags;
  auto* import_csv = data_import->add_subcommand(
      "csv",
      "Numeric CSV with a header row: float64 `features` [N, C] (and `target` [N] with "
      "--target); a first line \"ROWS,COLUMNS\" (scikit-learn's) is detected and skipped");
  import_csv->add_option("FILE", csv_flags.input, "CSV file (gzip'd or not)")->required();
  import_csv->add_option("-o,--output", csv_flags.output, "HDF5 file to write")->required();
  import_csv
      ->add_option("--skip-rows", csv_flags.skip_rows,
                   "Lines before the header (default: detect scikit-learn's first line)")
      ->check(CLI::NonNegativeNumber);
  import_csv->add_option("--target", csv_flags.target,
                         "Column to store as `target` instead of in `features`");
  import_csv->add_option("--chunk-rows", csv_flags.chunk_rows, "Rows per chunk")
      ->check(CLI::PositiveNumber);
  import_csv->add_option("--compression", csv_flags.compression, "Deflate level: 0 (none) to 9")
      ->check(CLI::Range(0, 9))
      ->capture_default_str();
  import_csv->add_flag("--force", csv_flags.force, "Replace the output file if it exists");

  InspectFlags inspect_flags;
  auto* data_inspect = data->add_subcommand(
      "inspect",
      "Describe an HDF5 file: each dataset's type, shape, chunks, compression, size and "
      "attributes, and the number of rows they share");
  data_inspect->add_option("FILE", inspect_flags.file, "HDF5 file")->required();
  data_inspect->add_flag("--json", inspect_flags.json, "Print JSON for programs");

  // ckpt ls|verify|inspect (ckpt_command.h).
  auto* ckpt = app.add_subcommand(
      "ckpt", "Checkpoints: list them, verify their files and checksums, show what one holds");
  ckpt->require_subcommand(1);
  ckpt->footer(R"(
Examples:
  trainctl ckpt ls /ckpt/job                     step, world size, size, created, latest (*)
  trainctl ckpt verify /ckpt/job                 every checkpoint: OK, or the bad file and why
  trainctl ckpt verify /ckpt/job/step-1200       one checkpoint
  trainctl ckpt inspect /ckpt/job/step-1200      tensors, sampler, optimizer, rng, metadata
  trainctl ckpt inspect --json /ckpt/job/step-1200 | jq '.tensors[].name'

The files are HDF5 (rank-R.h5) and open with h5dump and h5py; manifest.json is written last.
Exit codes: 0 success, 1 a checkpoint failed to verify or could not be read, 2 usage (a path
that does not exist).)");
  CkptListFlags ckpt_ls_flags;
  auto* ckpt_ls = ckpt->add_subcommand(
      "ls", "List the committed checkpoints of a directory, newest first; * marks `latest`");
  ckpt_ls->add_option("DIR", ckpt_ls_flags.dir, "Checkpoint directory (spec.checkpoint.dir)")
      ->required();
  ckpt_ls->add_flag("--json", ckpt_ls_flags.json, "Print JSON for programs");
  CkptVerifyFlags ckpt_verify_flags;
  auto* ckpt_verify = ckpt->add_subcommand(
      "verify",
      "Check checkpoints against their manifests (every file's size and checksum); exit 1 "
      "naming the bad file when one fails");
  ckpt_verify
      ->add_option("PATH", ckpt_verify_flags.path,
                   "A checkpoint directory (every step-N in it) or one DIR/step-N")
      ->required();
  ckpt_verify->add_flag("-q,--quiet", ckpt_verify_flags.quiet, "Print failures only");
  CkptInspectFlags ckpt_inspect_flags;
  auto* ckpt_inspect = ckpt->add_subcommand(
      "inspect",
      "Show what one checkpoint holds: tensors (dtype, shape, replicated or sharded, files), "
      "sampler position, optimizer step, RNG names, metadata");
  ckpt_inspect->add_option("STEP_DIR", ckpt_inspect_flags.step_dir, "DIR/step-N")->required();
  ckpt_inspect->add_flag("--json", ckpt_inspect_flags.json, "Print JSON for programs");

  // render, submit, status, logs, delete (k8s_commands.h).
  auto run_kubernetes_command = AddKubernetesCommands(&app);

  // run and agent take the quick form's command (a script, or a program after "--"); it is
  // split off just before parsing.
  JobFlags job_flags;
  TorchrunFlags torchrun_flags;
  std::vector<char*> args(argv, argv + argc);
  auto add_job_flags = [&job_flags, &torchrun_flags](CLI::App* command, bool is_agent) {
    command->add_option("JOB", job_flags.job_file, "TrainingJob file (YAML or JSON)");
    AddTorchrunOptions(command, is_agent, &torchrun_flags);
    SetLaunchUsage(command);
    command->add_option("--nnodes", job_flags.nnodes,
                        "Nodes: N, or MIN:MAX for an elastic job (spec.nodes); trainctl run "
                        "starts MIN here");
    command->add_option("--max-restarts,--max_restarts", job_flags.max_restarts,
                        "Group restarts allowed (spec.failurePolicy.maxRestarts)");
    command->add_option("--backoff", job_flags.backoff,
                        "Wait before a restart, doubling each time, e.g. 500ms "
                        "(spec.failurePolicy.backoff)");
    command->add_option("--run-dir", job_flags.run_dir,
                        "Where per-rank logs and the token go (default runs/JOB/TIMESTAMP, a "
                        "new one per run); refused while another run uses it");
    command->add_flag("--resume{always}", job_flags.resume,
                      "Continue an earlier run: the bare flag resumes the newest checkpoint an "
                      "earlier run left under spec.checkpoint.dir; --resume=PATH resumes that "
                      "checkpoint directory or DIR/step-N; --resume=never|auto|always sets "
                      "spec.checkpoint.resume. Default: a new run starts at step 0");
    command->add_option("--working-dir", job_flags.working_dir,
                        "Where workers start, relative to the current directory (overrides "
                        "spec.workingDir, which is relative to the spec file)");
    command->add_option("--rdzv-backend,--rdzv_backend", job_flags.rdzv_backend,
                        "The store: builtin (also c10d, static) or etcd (also etcd-v2), whose "
                        "members --store lists (spec.rendezvous.backend; docs/store.md)");
  };
  auto* run = app.add_subcommand(
      "run",
      "Run a job on this machine: the store on loopback, one agent per node, workers "
      "restarted as a group on failure. Give a JOB.yaml, a script (as torchrun), or a "
      "command after --. Flags override the spec.");
  add_job_flags(run, false);
  run->add_option("--chaos", job_flags.chaos,
                  "Inject a fault once: kill|stop|kill-agent:rank=R:step=S (repeatable; "
                  "docs/launcher.md)")
      ->allow_extra_args(false);
  run->add_option("--store", job_flags.rdzv_store,
                  "With --rdzv-backend etcd: the cluster's members, HOST:PORT[,HOST:PORT...] "
                  "(spec.rendezvous.endpoints)");
  run->add_option("--local-nodes", job_flags.local_nodes,
                  "Agents (nodes) to start here, from MIN to MAX of --nnodes (default MIN, as "
                  "torchrun started once is one node); more rehearse an elastic job's losses");
  run->add_option("--metrics-port", job_flags.metrics_port,
                  "Serve Prometheus /metrics here (node K: port+K; default 0: any free port)");
  auto run_report_command = AddReportCommand(&app);
  run->footer(R"(
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
signal.)");

  AgentFlags agent_flags;
  auto* agent = app.add_subcommand(
      "agent",
      "Run one node of a multi-host job: join the rendezvous at --store, run this "
      "node's workers, restart them with the others");
  add_job_flags(agent, true);
  agent->add_option("--store", agent_flags.store,
                    "The job's store, HOST:PORT (else $TRAINCTL_STORE, else "
                    "$MASTER_ADDR:$MASTER_PORT); with --rdzv-backend etcd, the cluster's "
                    "members HOST:PORT[,HOST:PORT...]");
  agent
      ->add_flag("--keep-job-keys", agent_flags.keep_job_keys,
                 "Leave the job's keys in etcd at exit (trainctl run clears them itself)")
      ->group("");
  agent
      ->add_option_function<std::string>(
          "--host-store",
          [&agent_flags](const std::string& mode) {
            agent_flags.host_store = mode.empty() ? "true" : mode;
          },
          "Serve the store on --store's port: auto (when this node's rank is 0), true (the "
          "bare flag) or false (else $TRAINCTL_HOST_STORE; default false)")
      ->expected(0, 1);
  agent->add_option("--store-bind", agent_flags.store_bind,
                    "Where a hosted store listens, when not --store's host: a numeric address, "
                    "e.g. 0.0.0.0 for every interface (else $TRAINCTL_STORE_BIND; default: "
                    "--store's host when it is an IP address, else 0.0.0.0)");
  agent->add_option("--node-rank,--node_rank", agent_flags.node_rank,
                    "This node's place in node order, or auto (join order) (else "
                    "$TRAINCTL_NODE_RANK, else $RANK)");
  agent->add_option("--token-file", agent_flags.token_file,
                    "File holding the job's token, the same on every node (else "
                    "$TRAINCTL_TOKEN_FILE)");
  agent->add_option("--job-id", agent_flags.job_id, "The job's id (default: metadata.name)");
  agent->add_option("--launch-id", agent_flags.launch_id,
                    "This launch's id, the same for every agent of the launch (default: the "
                    "agents settle one in their first round)");
  agent->footer(R"(
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
their step, then the agent exits 75 and the other nodes restart without spending a restart.)");

  SplitCommand(run, agent, &args, &job_flags.command);
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message (and help for a missing command)
    return kExitUsage;
  }

  if (auto code = run_kubernetes_command()) return *code;
  if (validate->parsed()) return RunValidate(files, quiet);
  if (explain->parsed()) return RunExplain(field_path);
  if (defaults->parsed()) return RunDefaults(defaults_file);
  if (version->parsed()) return RunVersion();
  if (plan->parsed()) return RunDataPlan(plan_flags);
  if (import_idx->parsed()) return RunDataImportIdx(idx_flags);
  if (import_csv->parsed()) return RunDataImportCsv(csv_flags);
  if (data_inspect->parsed()) return RunDataInspect(inspect_flags);
  if (ckpt_ls->parsed()) return RunCkptList(ckpt_ls_flags);
  if (ckpt_verify->parsed()) return RunCkptVerify(ckpt_verify_flags);
  if (ckpt_inspect->parsed()) return RunCkptInspect(ckpt_inspect_flags);
  if (auto code = run_report_command()) return *code;
  std::unique_ptr<trainctl::agent::JobWatchdog> watchdog;
  if (run->parsed() || agent->parsed()) {
    auto notes = ApplyTorchrunFlags(torchrun_flags, train::internal::ProcessEnvironment(),
                                    &job_flags, agent->parsed() ? &agent_flags : nullptr);
    if (!notes.ok()) {
      std::cerr << "trainctl " << (run->parsed() ? "run" : "agent") << ": "
                << notes.status().message() << "\n";
      return kExitUsage;
    }
    for (const std::string& note : *notes) std::cerr << note << "\n";
    watchdog = StartJobWatchdog();
  }
  if (run->parsed()) return RunJob(job_flags);
  if (agent->parsed()) {
    agent_flags.job = job_flags;
    return RunAgent(agent_flags);
  }
  return kExitUsage;
}
