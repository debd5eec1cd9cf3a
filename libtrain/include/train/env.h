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

namespace train {

// Every variable of this process's environment. The only reader of the environment besides
// WorkerEnv::FromEnvironment: launchers use it to build their children's environment.
std::map<std::string, std::string> ProcessEnvironment();

// Who started this worker; decides how the worker bootstraps its collectives.
enum class Launcher {
  kStandalone,  // no launcher variables at all: rank 0 of a world of 1
  kTrainctl,    // TRAIN_* variables from trainctl run / agent / Kubernetes pods
  kTorchrun,    // torch names only (torchrun, or PyTorchJob on Kubernetes)
  kOpenMpi,     // OMPI_COMM_WORLD_* from mpirun
};

// "standalone", "trainctl", "torchrun", "openmpi".
std::string_view LauncherName(Launcher launcher);

// host:port of the rendezvous store.
struct StoreAddress {
  std::string host;
  int port = 0;

  std::string ToString() const;  // "host:port", "[::1]:port" for IPv6 literals
  // Parses "host:port" or "[v6]:port"; the error names `what` (the variable) and the value.
  static Result<StoreAddress> Parse(std::string_view text, std::string_view what);
};

inline bool operator==(const StoreAddress& a, const StoreAddress& b) {
  return a.host == b.host && a.port == b.port;
}
inline bool operator!=(const StoreAddress& a, const StoreAddress& b) { return !(a == b); }

// An etcd member's client URL: "host:port", "http://host:port" or "https://host:port". Returns
// the address part; the error names `what` (a variable, a flag, a field) and the value.
Result<StoreAddress> ParseEtcdEndpoint(std::string_view text, std::string_view what);

// The etcd cluster that holds a job's store (TRAIN_STORE_BACKEND=etcd; docs/env.md). Secrets
// travel as files, never as values.
struct EtcdConfig {
  std::vector<std::string> endpoints;  // TRAIN_STORE_ENDPOINTS: ParseEtcdEndpoint's forms
  std::string username;                // TRAIN_ETCD_USER; empty: no authentication
  std::string password_file;           // TRAIN_ETCD_PASSWORD_FILE: the user's password
  std::string ca_file;                 // TRAIN_ETCD_CA_FILE: CA of the members' certificates
  std::string cert_file;               // TRAIN_ETCD_CERT_FILE: this client's certificate
  std::string key_file;                // TRAIN_ETCD_KEY_FILE: its private key
};

inline bool operator==(const EtcdConfig& a, const EtcdConfig& b) {
  return a.endpoints == b.endpoints && a.username == b.username &&
         a.password_file == b.password_file && a.ca_file == b.ca_file &&
         a.cert_file == b.cert_file && a.key_file == b.key_file;
}
inline bool operator!=(const EtcdConfig& a, const EtcdConfig& b) { return !(a == b); }

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
};

// Field by field, launcher included.
inline bool operator==(const WorkerEnv& a, const WorkerEnv& b) {
  return a.launcher == b.launcher && a.rank == b.rank && a.world_size == b.world_size &&
         a.local_rank == b.local_rank && a.local_world_size == b.local_world_size &&
         a.node_rank == b.node_rank && a.num_nodes == b.num_nodes && a.store == b.store &&
         a.hosts_store == b.hosts_store && a.torch_agent_store == b.torch_agent_store &&
         a.job_id == b.job_id && a.run_id == b.run_id && a.restart_count == b.restart_count &&
         a.token_file == b.token_file && a.checkpoint_dir == b.checkpoint_dir &&
         a.checkpoint_every_steps == b.checkpoint_every_steps &&
         a.checkpoint_keep == b.checkpoint_keep && a.checkpoint_async == b.checkpoint_async &&
         a.checkpoint_memory_every_steps == b.checkpoint_memory_every_steps &&
         a.checkpoint_memory_replicas == b.checkpoint_memory_replicas &&
         a.checkpoint_memory_dir == b.checkpoint_memory_dir && a.launch_id == b.launch_id &&
         a.checkpoint_resume == b.checkpoint_resume &&
         a.checkpoint_resume_from == b.checkpoint_resume_from &&
         a.collective_backend == b.collective_backend &&
         a.collective_timeout_ms == b.collective_timeout_ms && a.torch_master == b.torch_master &&
         a.etcd == b.etcd;
}
inline bool operator!=(const WorkerEnv& a, const WorkerEnv& b) { return !(a == b); }

}  // namespace train

#endif  // TRAIN_ENV_H_
