// The worker's environment: who this process is in the job, and where the rendezvous is.
//
// WorkerEnv::FromEnvironment() is the one place libtrain reads environment variables. It
// understands three forms (docs/env.md is the reference):
//   - trainctl: TRAIN_RANK, TRAIN_WORLD_SIZE, ... (and the torch names set alongside);
//   - torchrun only: RANK, WORLD_SIZE, LOCAL_RANK, ..., MASTER_ADDR/MASTER_PORT (rank 0 hosts
//     the store there);
//   - Open MPI (mpirun): OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, ... (bootstrap via MPI).
// With none of them set, the process is a standalone job of one worker.
#ifndef TRAIN_ENV_H_
#define TRAIN_ENV_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"
#include "train/store_location.h"

namespace train {

// Who started this worker; decides how the worker bootstraps its collectives.
enum class Launcher {
  kStandalone,  // no launcher variables at all: rank 0 of a world of 1
  kTrainctl,    // TRAIN_* variables from trainctl run / agent / Kubernetes pods
  kTorchrun,    // torch names only (torchrun, or PyTorchJob on Kubernetes)
  kOpenMpi,     // OMPI_COMM_WORLD_* from mpirun
};

// "standalone", "trainctl", "torchrun", "openmpi".
std::string_view LauncherName(Launcher launcher);

struct WorkerEnv {
  Launcher launcher = Launcher::kStandalone;
  int rank = 0;                       // global rank, 0 <= rank < world_size
  int world_size = 1;                 // number of workers in the job
  int local_rank = 0;                 // rank among the workers on this node
  int local_world_size = 1;           // workers on this node
  int node_rank = 0;                  // index of this node (GROUP_RANK in torch terms)
  int num_nodes = 1;                  // nodes in this round
  std::optional<StoreAddress> store;  // rendezvous store; absent for standalone and Open MPI
  bool hosts_store = false;           // torchrun-only form: rank 0 must serve the store itself
  bool torch_agent_store = false;     // torchrun's static rendezvous: torch's own store already
                                      // listens on MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE)
  std::string job_id;                 // the TrainingJob's name (or torchrun's run id)
  std::string run_id;                 // the rendezvous round this worker belongs to
  int restart_count = 0;              // how many times the group was restarted before this start
  std::string token_file;             // file holding the job's store token (never the token itself)
  std::string checkpoint_dir;         // where checkpoints live; empty when the job has none
  int checkpoint_every_steps = 0;     // the spec's checkpoint.everySteps; 0: unset
  int checkpoint_keep = 0;            // the spec's checkpoint.keep; 0: unset
  std::optional<bool> checkpoint_async;  // the spec's checkpoint.async; unset: nullopt
  // In-memory peer snapshots (the spec's checkpoint.memory): every this many steps (0: none),
  // with this many copies on other nodes (unset: 1), in this node-local directory in RAM that
  // the agent keeps for the run (empty: none).
  int checkpoint_memory_every_steps = 0;
  std::optional<int> checkpoint_memory_replicas;
  std::string checkpoint_memory_dir;
  // One launch of the job (trainctl run, or the agents of one job), the same across its
  // restarts and on every node; each launch gets a new one. train::Trainer keeps a launch's
  // checkpoints apart from other launches' (<checkpoint_dir>/run-<launch_id>). Empty: none.
  std::string launch_id;
  std::string checkpoint_resume;       // the spec's checkpoint.resume: auto, never, always; empty
  std::string checkpoint_resume_from;  // the spec's checkpoint.resumeFrom (trainctl run --resume=)
  std::string collective_backend;      // the spec's collectives.backend; empty: auto
  int collective_timeout_ms = 0;       // the spec's collectives.timeout; 0: the library default
  // trainctl form: where torch.distributed's env:// rendezvous meets (MASTER_ADDR:MASTER_PORT),
  // a free port on node 0 that rank 0's TCPStore binds. libtrain itself never uses it: its
  // store is `store`. Absent when the launcher set no MASTER_ADDR/MASTER_PORT.
  std::optional<StoreAddress> torch_master;
  // The store is in this etcd cluster (TRAIN_STORE_BACKEND=etcd) instead of the built-in
  // server; `store` is then its first endpoint's address (other hosts route towards it).
  std::optional<EtcdConfig> etcd;

  // Reads the process environment (the only getenv in libtrain).
  static Result<WorkerEnv> FromEnvironment();

  // The same from an explicit variable map: what FromEnvironment does after reading environ.
  // Errors name the variable, its value, and what would be valid.
  static Result<WorkerEnv> FromVariables(const std::map<std::string, std::string>& vars);

  // The full contract for this worker (TRAIN_* and the torch names), as a launcher sets it.
  // FromVariables(ToVariables()) gives back an equal WorkerEnv with launcher kTrainctl (and
  // hosts_store false: under trainctl the launcher serves the store). Empty strings and an
  // absent store are left out.
  std::map<std::string, std::string> ToVariables() const;

  // One line for logs: "rank 3/8 (local 1/4, node 1/2) round r2 restart 0 via trainctl,
  // store node0:29400". The round is left out when run_id is empty, the store when absent.
  std::string Describe() const;

  // Field by field, launcher included (defaulted in env.cc: a new field is compared too).
  friend bool operator==(const WorkerEnv& a, const WorkerEnv& b);
};

inline bool operator!=(const WorkerEnv& a, const WorkerEnv& b) { return !(a == b); }

}  // namespace train

#endif  // TRAIN_ENV_H_
