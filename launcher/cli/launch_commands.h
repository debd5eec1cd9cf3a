// trainctl run and trainctl agent: their flags, and the code behind them.
#ifndef TRAINCTL_CLI_LAUNCH_COMMANDS_H_
#define TRAINCTL_CLI_LAUNCH_COMMANDS_H_

#include <string>
#include <vector>

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
};

// `trainctl run`: hosts the store on loopback and runs the job's agents on this machine.
int RunJob(const JobFlags& flags);

// `trainctl agent`: one node of a multi-host job.
int RunAgent(const AgentFlags& flags);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_LAUNCH_COMMANDS_H_
