// trainctl run and trainctl agent: their flags, and the code behind them.
#ifndef TRAINCTL_CLI_LAUNCH_COMMANDS_H_
#define TRAINCTL_CLI_LAUNCH_COMMANDS_H_

#include <string>
#include <vector>

#include "commands.h"

namespace trainctl::cli {

// Flags shared by run and agent; unset values leave the spec's.
struct JobFlags {
  std::string job_file;              // JOB.yaml, or "" for the quick form
  std::vector<std::string> command;  // the quick form's command (after "--")
  int nproc = -1;                    // --nproc / --nproc-per-node
  std::string nnodes;                // --nnodes M or MIN:MAX
  int max_restarts = -1;             // --max-restarts
  std::string backoff;               // --backoff (a duration)
  std::string run_dir;               // --run-dir
  std::string working_dir;  // --working-dir: overrides spec.workingDir, relative to the cwd
  // --resume[=auto|never|always|PATH]: "" when not given; the bare flag is "always"; a PATH
  // (a checkpoint directory, or one DIR/step-N) to continue from.
  std::string resume;
  std::vector<std::string> chaos;  // --chaos ACTION:rank=R:step=S (run only; repeatable)
  int metrics_port = 0;            // --metrics-port (run only; 0: any free port)
  // --rdzv-backend builtin|etcd (torchrun's c10d and static mean builtin, etcd-v2 etcd):
  // spec.rendezvous.backend. "" leaves the spec's.
  std::string rdzv_backend;
  // With the etcd backend: the cluster's endpoints, comma-separated (run's --store, or the
  // agent's), replacing spec.rendezvous.endpoints. Ignored with the built-in store.
  std::string rdzv_store;
  // From torchrun's flags (torchrun_flags.h): the job's name (--rdzv-id, or the script's or
  // module's in the quick form), ROLE_NAME (--role), and, for run with the built-in store,
  // where it listens (--rdzv-endpoint HOST:PORT).
  std::string job_name;
  std::string role;
  std::string rdzv_endpoint;
  // run's --local-nodes K: agents to start here, in [nodes.min, nodes.max]; -1: nodes.min.
  int local_nodes = -1;
};

struct AgentFlags {
  JobFlags job;
  // Empty when not given: the agent then reads its environment (TRAINCTL_STORE, ...).
  std::string store;       // --store HOST:PORT
  std::string host_store;  // --host-store auto|true|false ("true" for the bare flag)
  std::string store_bind;  // --store-bind ADDR: where a hosted store listens
  std::string node_rank;   // --node-rank N|auto
  std::string token_file;  // --token-file
  std::string job_id;      // --job-id (overrides metadata.name)
  // --launch-id: the launch this agent belongs to (trainctl run passes its own to the agents
  // it starts); empty: a new one, settled with the other agents in the first round.
  std::string launch_id;
  // --keep-job-keys: leave the job's keys in etcd at exit. trainctl run passes it to the agents
  // it starts: it reads the job's outcome after them, then removes the keys itself.
  bool keep_job_keys = false;
};

// run and agent. The quick form's command (a script, or a program after "--") is moved from
// `args` (argv, before parsing) to the flags.
CommandRunner AddLaunchCommands(CLI::App* app, std::vector<char*>* args);

// `trainctl run`: hosts the store on loopback and runs the job's agents on this machine.
int RunJob(const JobFlags& flags);

// `trainctl agent`: one node of a multi-host job.
int RunAgent(const AgentFlags& flags);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_LAUNCH_COMMANDS_H_
