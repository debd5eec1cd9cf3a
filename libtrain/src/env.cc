// The worker environment contract: which launcher started this process, and the worker's
// place in the job. docs/env.md is the reference for every variable and rule used here.
#include "train/env.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "env_parse.h"
#include "train/internal/process_environment.h"

namespace train {
namespace {

using internal::env::CheckCount;
using internal::env::CheckHost;
using internal::env::CheckIndex;
using internal::env::CheckNonNegative;
using internal::env::CheckTorchInt;
using internal::env::Disagree;
using internal::env::Field;
using internal::env::ParseInt;
using internal::env::ParsePort;
using internal::env::Reader;
using internal::env::Shown;
using internal::env::SplitCommas;
using internal::env::StripBrackets;
using internal::env::Topology;
using internal::env::TopologyNames;
using internal::env::Vars;

// The trainctl contract. Any one of these selects the trainctl form.
constexpr const char* kTrainRank = "TRAIN_RANK";
constexpr const char* kTrainWorldSize = "TRAIN_WORLD_SIZE";
constexpr const char* kTrainLocalRank = "TRAIN_LOCAL_RANK";
constexpr const char* kTrainLocalWorldSize = "TRAIN_LOCAL_WORLD_SIZE";
constexpr const char* kTrainNodeRank = "TRAIN_NODE_RANK";
constexpr const char* kTrainNumNodes = "TRAIN_NUM_NODES";
constexpr const char* kTrainStoreAddr = "TRAIN_STORE_ADDR";
constexpr const char* kTrainJobId = "TRAIN_JOB_ID";
constexpr const char* kTrainRunId = "TRAIN_RUN_ID";
constexpr const char* kTrainRestartCount = "TRAIN_RESTART_COUNT";
constexpr const char* kTrainTokenFile = "TRAIN_TOKEN_FILE";
constexpr const char* kTrainCheckpointDir = "TRAIN_CHECKPOINT_DIR";
constexpr const char* kTrainCheckpointEverySteps = "TRAIN_CHECKPOINT_EVERY_STEPS";
constexpr const char* kTrainCheckpointKeep = "TRAIN_CHECKPOINT_KEEP";
constexpr const char* kTrainCheckpointAsync = "TRAIN_CHECKPOINT_ASYNC";
constexpr const char* kTrainCheckpointMemoryEverySteps = "TRAIN_CHECKPOINT_MEMORY_EVERY_STEPS";
constexpr const char* kTrainCheckpointMemoryReplicas = "TRAIN_CHECKPOINT_MEMORY_REPLICAS";
constexpr const char* kTrainCheckpointMemoryDir = "TRAIN_CHECKPOINT_MEMORY_DIR";
constexpr const char* kTrainCollectiveBackend = "TRAIN_COLLECTIVE_BACKEND";
constexpr const char* kTrainLaunchId = "TRAIN_LAUNCH_ID";
constexpr const char* kTrainCheckpointResume = "TRAIN_CHECKPOINT_RESUME";
constexpr const char* kTrainCheckpointResumeFrom = "TRAIN_CHECKPOINT_RESUME_FROM";
constexpr const char* kTrainCollectiveTimeoutMs = "TRAIN_COLLECTIVE_TIMEOUT_MS";
// The store's engine: builtin (TRAIN_STORE_ADDR) or etcd (TRAIN_STORE_ENDPOINTS, TRAIN_ETCD_*).
constexpr const char* kTrainStoreBackend = "TRAIN_STORE_BACKEND";
constexpr const char* kTrainStoreEndpoints = "TRAIN_STORE_ENDPOINTS";
constexpr const char* kTrainEtcdUser = "TRAIN_ETCD_USER";
constexpr const char* kTrainEtcdPasswordFile = "TRAIN_ETCD_PASSWORD_FILE";
constexpr const char* kTrainEtcdCaFile = "TRAIN_ETCD_CA_FILE";
constexpr const char* kTrainEtcdCertFile = "TRAIN_ETCD_CERT_FILE";
constexpr const char* kTrainEtcdKeyFile = "TRAIN_ETCD_KEY_FILE";
constexpr const char* kTrainContract[] = {kTrainRank,
                                          kTrainWorldSize,
                                          kTrainLocalRank,
                                          kTrainLocalWorldSize,
                                          kTrainNodeRank,
                                          kTrainNumNodes,
                                          kTrainStoreAddr,
                                          kTrainJobId,
                                          kTrainRunId,
                                          kTrainRestartCount,
                                          kTrainTokenFile,
                                          kTrainCheckpointDir,
                                          kTrainCollectiveBackend,
                                          kTrainCollectiveTimeoutMs,
                                          kTrainStoreBackend,
                                          kTrainStoreEndpoints};

// torchrun's names (also set by trainctl alongside its own).
constexpr const char* kRank = "RANK";
constexpr const char* kWorldSize = "WORLD_SIZE";
constexpr const char* kLocalRank = "LOCAL_RANK";
constexpr const char* kLocalWorldSize = "LOCAL_WORLD_SIZE";
constexpr const char* kGroupRank = "GROUP_RANK";
constexpr const char* kGroupWorldSize = "GROUP_WORLD_SIZE";
constexpr const char* kMasterAddr = "MASTER_ADDR";
constexpr const char* kMasterPort = "MASTER_PORT";
constexpr const char* kTorchRestartCount = "TORCHELASTIC_RESTART_COUNT";
constexpr const char* kTorchRunId = "TORCHELASTIC_RUN_ID";
// "True" under torchrun's static rendezvous, where torch's agent serves MASTER_PORT itself.
constexpr const char* kTorchAgentStore = "TORCHELASTIC_USE_AGENT_STORE";
// Any of these (but not MASTER_ADDR/MASTER_PORT alone, which cluster profiles often export)
// selects the torchrun form, so a half-set torch environment is an error, not standalone.
constexpr const char* kTorchTopology[] = {kRank,           kWorldSize, kLocalRank,
                                          kLocalWorldSize, kGroupRank, kGroupWorldSize};

// Open MPI's names (mpirun sets them for every rank).
constexpr const char* kOmpiRank = "OMPI_COMM_WORLD_RANK";
constexpr const char* kOmpiSize = "OMPI_COMM_WORLD_SIZE";
constexpr const char* kOmpiLocalRank = "OMPI_COMM_WORLD_LOCAL_RANK";
constexpr const char* kOmpiLocalSize = "OMPI_COMM_WORLD_LOCAL_SIZE";
// Open MPI 4's node count. (OMPI_COMM_WORLD_NODE_RANK is NOT a node index: it is this
// process's rank among all processes on its node, so it is not read.)
constexpr const char* kOmpiNumNodes = "OMPI_MCA_orte_num_nodes";

// TRAIN_STORE_BACKEND and what it needs: the etcd cluster, or nothing for the built-in store.
Result<std::optional<EtcdConfig>> ReadStoreBackend(const Reader& r) {
  const std::string backend = r.String(kTrainStoreBackend);
  const std::pair<const char*, std::string EtcdConfig::*> files[] = {
      {kTrainEtcdUser, &EtcdConfig::username},
      {kTrainEtcdPasswordFile, &EtcdConfig::password_file},
      {kTrainEtcdCaFile, &EtcdConfig::ca_file},
      {kTrainEtcdCertFile, &EtcdConfig::cert_file},
      {kTrainEtcdKeyFile, &EtcdConfig::key_file}};
  if (backend.empty() || backend == "builtin") {
    for (const char* name : {kTrainStoreEndpoints, kTrainEtcdUser, kTrainEtcdPasswordFile,
                             kTrainEtcdCaFile, kTrainEtcdCertFile, kTrainEtcdKeyFile}) {
      if (const std::string* value = r.Get(name)) {
        return InvalidArgumentError(Shown(name, *value) +
                                    " is for an etcd store: set TRAIN_STORE_BACKEND=etcd, or "
                                    "unset it (the built-in store is at TRAIN_STORE_ADDR)");
      }
    }
    return std::optional<EtcdConfig>();
  }
  if (backend != "etcd") {
    return InvalidArgumentError(Shown(kTrainStoreBackend, backend) +
                                " is not a store backend: use builtin or etcd");
  }
  if (const std::string* addr = r.Get(kTrainStoreAddr)) {
    return InvalidArgumentError(Shown(kTrainStoreAddr, *addr) + " is set with " +
                                Shown(kTrainStoreBackend, backend) +
                                ": an etcd store is at TRAIN_STORE_ENDPOINTS; unset one of them");
  }
  const std::string* endpoints = r.Get(kTrainStoreEndpoints);
  if (endpoints == nullptr) {
    return r.Missing(kTrainStoreEndpoints, " with " + Shown(kTrainStoreBackend, backend) +
                                               " (the etcd members, host:port,host:port)");
  }
  EtcdConfig etcd;
  etcd.endpoints = SplitCommas(*endpoints);
  for (const std::string& endpoint : etcd.endpoints) {
    Result<StoreAddress> parsed = ParseEtcdEndpoint(endpoint, kTrainStoreEndpoints);
    if (!parsed.ok()) {
      return InvalidArgumentError(
          Shown(kTrainStoreEndpoints, *endpoints) +
          " is not a comma-separated list of etcd endpoints: " + parsed.status().message());
    }
  }
  for (const auto& [name, field] : files) etcd.*field = r.String(name);
  if (!etcd.password_file.empty() && etcd.username.empty()) {
    return InvalidArgumentError(Shown(kTrainEtcdPasswordFile, etcd.password_file) +
                                " is set without TRAIN_ETCD_USER: set the user it belongs to");
  }
  if (etcd.cert_file.empty() != etcd.key_file.empty()) {
    return InvalidArgumentError(
        std::string("TRAIN_ETCD_CERT_FILE and TRAIN_ETCD_KEY_FILE go together (a client "
                    "certificate and its key): ") +
        (etcd.cert_file.empty() ? Shown(kTrainEtcdKeyFile, etcd.key_file)
                                : Shown(kTrainEtcdCertFile, etcd.cert_file)) +
        " is set alone");
  }
  return std::optional<EtcdConfig>(std::move(etcd));
}

Result<WorkerEnv> FromTrainctl(const Vars& vars, const std::string& detected_by) {
  Reader r(vars, "trainctl", detected_by);
  WorkerEnv env;
  env.launcher = Launcher::kTrainctl;
  TRAIN_ASSIGN_OR_RETURN(
      Topology t, ReadTopology(r, {kTrainRank, kTrainWorldSize, kTrainLocalRank,
                                   kTrainLocalWorldSize, kTrainNodeRank, kTrainNumNodes,
                                   /*uniform_required=*/true, /*one_node_by_default=*/true}));
  ApplyTopology(t, env);

  TRAIN_ASSIGN_OR_RETURN(env.etcd, ReadStoreBackend(r));
  if (env.etcd.has_value()) {
    TRAIN_ASSIGN_OR_RETURN(env.store,
                           ParseEtcdEndpoint(env.etcd->endpoints.front(), kTrainStoreEndpoints));
  } else if (const std::string* addr = r.Get(kTrainStoreAddr)) {
    TRAIN_ASSIGN_OR_RETURN(env.store, StoreAddress::Parse(*addr, kTrainStoreAddr));
  } else if (env.world_size > 1) {
    return r.Missing(kTrainStoreAddr,
                     " when " + t.world_size.Shown() + " (the rendezvous store's host:port)");
  }
  TRAIN_ASSIGN_OR_RETURN(Field restarts, r.Optional(kTrainRestartCount, 0));
  TRAIN_RETURN_IF_ERROR(CheckNonNegative(restarts));
  env.restart_count = restarts.value;
  env.job_id = r.String(kTrainJobId);
  env.run_id = r.String(kTrainRunId);
  env.token_file = r.String(kTrainTokenFile);
  env.checkpoint_dir = r.String(kTrainCheckpointDir);
  for (auto [name, field] :
       {std::pair{kTrainCheckpointEverySteps, &env.checkpoint_every_steps},
        std::pair{kTrainCheckpointKeep, &env.checkpoint_keep},
        std::pair{kTrainCheckpointMemoryEverySteps, &env.checkpoint_memory_every_steps}}) {
    TRAIN_ASSIGN_OR_RETURN(Field value, r.Optional(name, 0));
    TRAIN_RETURN_IF_ERROR(CheckNonNegative(value));
    *field = value.value;
  }
  TRAIN_ASSIGN_OR_RETURN(Field replicas, r.Optional(kTrainCheckpointMemoryReplicas, 0));
  TRAIN_RETURN_IF_ERROR(CheckNonNegative(replicas));
  if (replicas.is_set) env.checkpoint_memory_replicas = replicas.value;
  env.checkpoint_memory_dir = r.String(kTrainCheckpointMemoryDir);
  const std::string async = r.String(kTrainCheckpointAsync);
  if (async == "true" || async == "1") {
    env.checkpoint_async = true;
  } else if (async == "false" || async == "0") {
    env.checkpoint_async = false;
  } else if (!async.empty()) {
    return InvalidArgumentError(Shown(kTrainCheckpointAsync, async) +
                                " is not a boolean: use true or false");
  }
  env.launch_id = r.String(kTrainLaunchId);
  if (env.launch_id.find('/') != std::string::npos || env.launch_id == "." ||
      env.launch_id == "..") {
    return InvalidArgumentError(Shown(kTrainLaunchId, env.launch_id) +
                                " is not a launch id: it names a directory, so it must not be . "
                                "or .. or contain '/'");
  }
  env.checkpoint_resume = r.String(kTrainCheckpointResume);
  if (!env.checkpoint_resume.empty() && env.checkpoint_resume != "auto" &&
      env.checkpoint_resume != "never" && env.checkpoint_resume != "always") {
    return InvalidArgumentError(Shown(kTrainCheckpointResume, env.checkpoint_resume) +
                                " is not a resume policy: use auto, never or always");
  }
  env.checkpoint_resume_from = r.String(kTrainCheckpointResumeFrom);
  env.collective_backend = r.String(kTrainCollectiveBackend);
  if (!env.collective_backend.empty() && env.collective_backend != "auto" &&
      env.collective_backend != "cpu" && env.collective_backend != "nccl" &&
      env.collective_backend != "mpi") {
    return InvalidArgumentError(Shown(kTrainCollectiveBackend, env.collective_backend) +
                                " is not a backend: use auto, cpu, nccl or mpi");
  }
  TRAIN_ASSIGN_OR_RETURN(Field timeout, r.Optional(kTrainCollectiveTimeoutMs, 0));
  TRAIN_RETURN_IF_ERROR(CheckNonNegative(timeout));
  env.collective_timeout_ms = timeout.value;

  // The torch names trainctl sets alongside: any present must say the same thing.
  TRAIN_RETURN_IF_ERROR(CheckTorchInt(r, kRank, t.rank));
  TRAIN_RETURN_IF_ERROR(CheckTorchInt(r, kWorldSize, t.world_size));
  TRAIN_RETURN_IF_ERROR(CheckTorchInt(r, kLocalRank, t.local_rank));
  TRAIN_RETURN_IF_ERROR(CheckTorchInt(r, kLocalWorldSize, t.local_world_size));
  TRAIN_RETURN_IF_ERROR(CheckTorchInt(r, kGroupRank, t.node_rank));
  TRAIN_RETURN_IF_ERROR(CheckTorchInt(r, kGroupWorldSize, t.num_nodes));
  TRAIN_RETURN_IF_ERROR(CheckTorchInt(r, kTorchRestartCount, restarts));
  if (const std::string* id = r.Get(kTorchRunId); id != nullptr && *id != env.job_id) {
    return Disagree(kTorchRunId, *id,
                    r.Get(kTrainJobId) ? Shown(kTrainJobId, env.job_id) : "TRAIN_JOB_ID (unset)");
  }
  // MASTER_ADDR/MASTER_PORT are torch.distributed's env:// rendezvous, not libtrain's store
  // (TRAIN_STORE_ADDR): rank 0's TCPStore binds that port, so it cannot be the store's. They
  // are checked and kept for the record; one without the other is ignored (torch needs both).
  const std::string* master_host = r.Get(kMasterAddr);
  const std::string* master_port = r.Get(kMasterPort);
  if (master_host != nullptr && master_port != nullptr) {
    StoreAddress master;
    master.host = StripBrackets(*master_host);
    TRAIN_RETURN_IF_ERROR(CheckHost(kMasterAddr, *master_host, master.host));
    TRAIN_ASSIGN_OR_RETURN(master.port, ParsePort(kMasterPort, *master_port));
    env.torch_master = std::move(master);
  }
  return env;
}

Result<WorkerEnv> FromTorchrun(const Vars& vars, const std::string& detected_by) {
  Reader r(vars, "torchrun", detected_by);
  WorkerEnv env;
  env.launcher = Launcher::kTorchrun;
  // Without LOCAL_WORLD_SIZE or GROUP_WORLD_SIZE (one process per pod, as PyTorchJob
  // without torchrun sets it) every worker is its own node.
  TRAIN_ASSIGN_OR_RETURN(
      Topology t, ReadTopology(r, {kRank, kWorldSize, kLocalRank, kLocalWorldSize, kGroupRank,
                                   kGroupWorldSize, /*uniform_required=*/false,
                                   /*one_node_by_default=*/false}));
  ApplyTopology(t, env);

  const std::string* host = r.Get(kMasterAddr);
  const std::string* port = r.Get(kMasterPort);
  if (host != nullptr || port != nullptr || env.world_size > 1) {
    const std::string why =
        env.world_size > 1 ? " when " + t.world_size.Shown()
                           : " with " + std::string(host != nullptr ? kMasterAddr : kMasterPort);
    if (host == nullptr) return r.Missing(kMasterAddr, why + " (the store's host)");
    if (port == nullptr) return r.Missing(kMasterPort, why + " (the store's port)");
    StoreAddress store;
    store.host = StripBrackets(*host);
    TRAIN_RETURN_IF_ERROR(CheckHost(kMasterAddr, *host, store.host));
    TRAIN_ASSIGN_OR_RETURN(store.port, ParsePort(kMasterPort, *port));
    env.store = std::move(store);
    // libtrain's store speaks its own protocol, so under torchrun rank 0 serves it.
    env.hosts_store = env.rank == 0;
    const auto agent_store = vars.find(kTorchAgentStore);
    env.torch_agent_store = agent_store != vars.end() && agent_store->second == "True";
  }
  TRAIN_ASSIGN_OR_RETURN(Field restarts, r.Optional(kTorchRestartCount, 0));
  TRAIN_RETURN_IF_ERROR(CheckNonNegative(restarts));
  env.restart_count = restarts.value;
  env.job_id = r.String(kTorchRunId);
  return env;
}

int CeilDiv(int a, int b) { return a / b + (a % b != 0 ? 1 : 0); }

Result<WorkerEnv> FromOpenMpi(const Vars& vars, const std::string& detected_by) {
  Reader r(vars, "Open MPI", detected_by);
  WorkerEnv env;
  env.launcher = Launcher::kOpenMpi;
  TRAIN_ASSIGN_OR_RETURN(Field rank, r.Required(kOmpiRank));
  TRAIN_ASSIGN_OR_RETURN(Field size, r.Required(kOmpiSize));
  TRAIN_RETURN_IF_ERROR(CheckCount(size, nullptr));
  TRAIN_RETURN_IF_ERROR(CheckIndex(rank, size));
  TRAIN_ASSIGN_OR_RETURN(Field local_size, r.Optional(kOmpiLocalSize, size.value));
  TRAIN_RETURN_IF_ERROR(CheckCount(local_size, &size));
  TRAIN_ASSIGN_OR_RETURN(Field local_rank,
                         r.Optional(kOmpiLocalRank, rank.value % local_size.value));
  TRAIN_RETURN_IF_ERROR(CheckIndex(local_rank, local_size));

  // mpirun exports no node index, so it is derived: exact when every node runs the same
  // number of ranks, placed by slot (mpirun's default) or round-robin (--map-by node).
  const int world = size.value;
  const int lws = local_size.value;
  TRAIN_ASSIGN_OR_RETURN(Field nodes, r.Optional(kOmpiNumNodes, CeilDiv(world, lws)));
  TRAIN_RETURN_IF_ERROR(CheckCount(nodes, &size));
  int node_rank = rank.value / CeilDiv(world, nodes.value);  // nodes filled in turn
  if (local_rank.value == rank.value % lws) {
    node_rank = rank.value / lws;
  } else if (local_rank.value == rank.value / nodes.value) {
    node_rank = rank.value % nodes.value;
  }
  env.rank = rank.value;
  env.world_size = world;
  env.local_rank = local_rank.value;
  env.local_world_size = local_size.value;
  env.node_rank = std::min(node_rank, nodes.value - 1);
  env.num_nodes = nodes.value;
  return env;
}

// The first variable of `names` present, or nullptr.
const char* FirstPresent(const Vars& vars, const char* const* begin, const char* const* end) {
  for (const char* const* it = begin; it != end; ++it) {
    if (vars.count(*it) != 0) return *it;
  }
  return nullptr;
}

void AppendTopology(const WorkerEnv& env, Vars& out, const char* rank, const char* world,
                    const char* local_rank, const char* local_world, const char* node_rank,
                    const char* num_nodes, const char* restarts) {
  out[rank] = std::to_string(env.rank);
  out[world] = std::to_string(env.world_size);
  out[local_rank] = std::to_string(env.local_rank);
  out[local_world] = std::to_string(env.local_world_size);
  out[node_rank] = std::to_string(env.node_rank);
  out[num_nodes] = std::to_string(env.num_nodes);
  out[restarts] = std::to_string(env.restart_count);
}

}  // namespace

std::string_view LauncherName(Launcher launcher) {
  switch (launcher) {
    case Launcher::kStandalone:
      return "standalone";
    case Launcher::kTrainctl:
      return "trainctl";
    case Launcher::kTorchrun:
      return "torchrun";
    case Launcher::kOpenMpi:
      return "openmpi";
  }
  return "unknown";
}

bool operator==(const WorkerEnv& a, const WorkerEnv& b) = default;

Result<WorkerEnv> WorkerEnv::FromEnvironment() {
  return FromVariables(internal::ProcessEnvironment());
}

Result<WorkerEnv> WorkerEnv::FromVariables(const std::map<std::string, std::string>& vars) {
  // Precedence: trainctl, then torchrun, then Open MPI, then standalone.
  if (const char* name = FirstPresent(vars, std::begin(kTrainContract), std::end(kTrainContract))) {
    return FromTrainctl(vars, name);
  }
  if (const char* name = FirstPresent(vars, std::begin(kTorchTopology), std::end(kTorchTopology))) {
    return FromTorchrun(vars, name);
  }
  if (vars.count(kOmpiRank) != 0 || vars.count(kOmpiSize) != 0) {
    return FromOpenMpi(vars, vars.count(kOmpiRank) != 0 ? kOmpiRank : kOmpiSize);
  }
  return WorkerEnv();
}

std::map<std::string, std::string> WorkerEnv::ToVariables() const {
  Vars out;
  AppendTopology(*this, out, kTrainRank, kTrainWorldSize, kTrainLocalRank, kTrainLocalWorldSize,
                 kTrainNodeRank, kTrainNumNodes, kTrainRestartCount);
  AppendTopology(*this, out, kRank, kWorldSize, kLocalRank, kLocalWorldSize, kGroupRank,
                 kGroupWorldSize, kTorchRestartCount);
  if (etcd.has_value()) {
    out[kTrainStoreBackend] = "etcd";
    std::string endpoints;
    for (const std::string& endpoint : etcd->endpoints) {
      endpoints += (endpoints.empty() ? "" : ",") + endpoint;
    }
    out[kTrainStoreEndpoints] = endpoints;
    const std::pair<const char*, const std::string*> files[] = {
        {kTrainEtcdUser, &etcd->username},
        {kTrainEtcdPasswordFile, &etcd->password_file},
        {kTrainEtcdCaFile, &etcd->ca_file},
        {kTrainEtcdCertFile, &etcd->cert_file},
        {kTrainEtcdKeyFile, &etcd->key_file}};
    for (const auto& [name, value] : files) {
      if (!value->empty()) out[name] = *value;
    }
  } else if (store.has_value()) {
    out[kTrainStoreAddr] = store->ToString();
  }
  if (torch_master.has_value()) {
    out[kMasterAddr] = torch_master->host;
    out[kMasterPort] = std::to_string(torch_master->port);
  }
  // Empty strings are left out: unset reads back as empty.
  const std::pair<const char*, const std::string*> strings[] = {
      {kTrainJobId, &job_id},
      {kTorchRunId, &job_id},
      {kTrainRunId, &run_id},
      {kTrainTokenFile, &token_file},
      {kTrainCheckpointDir, &checkpoint_dir},
      {kTrainCheckpointMemoryDir, &checkpoint_memory_dir},
      {kTrainLaunchId, &launch_id},
      {kTrainCheckpointResume, &checkpoint_resume},
      {kTrainCheckpointResumeFrom, &checkpoint_resume_from},
      {kTrainCollectiveBackend, &collective_backend}};
  for (const auto& [name, value] : strings) {
    if (!value->empty()) out[name] = *value;
  }
  if (checkpoint_every_steps > 0) {
    out[kTrainCheckpointEverySteps] = std::to_string(checkpoint_every_steps);
  }
  if (checkpoint_keep > 0) out[kTrainCheckpointKeep] = std::to_string(checkpoint_keep);
  if (checkpoint_memory_every_steps > 0) {
    out[kTrainCheckpointMemoryEverySteps] = std::to_string(checkpoint_memory_every_steps);
  }
  if (checkpoint_memory_replicas) {
    out[kTrainCheckpointMemoryReplicas] = std::to_string(*checkpoint_memory_replicas);
  }
  if (checkpoint_async) out[kTrainCheckpointAsync] = *checkpoint_async ? "true" : "false";
  if (collective_timeout_ms > 0) {
    out[kTrainCollectiveTimeoutMs] = std::to_string(collective_timeout_ms);
  }
  return out;
}

std::string WorkerEnv::Describe() const {
  std::string out = "rank " + std::to_string(rank) + "/" + std::to_string(world_size) + " (local " +
                    std::to_string(local_rank) + "/" + std::to_string(local_world_size) +
                    ", node " + std::to_string(node_rank) + "/" + std::to_string(num_nodes) + ")";
  if (!run_id.empty()) out += " round " + run_id;
  out +=
      " restart " + std::to_string(restart_count) + " via " + std::string(LauncherName(launcher));
  if (etcd.has_value()) {
    out += ", store etcd";
    for (std::size_t i = 0; i < etcd->endpoints.size(); ++i) {
      out += (i == 0 ? " " : ",") + etcd->endpoints[i];
    }
  } else if (store.has_value()) {
    out += ", store " + store->ToString();
    if (hosts_store) out += " (served by this rank)";
  }
  return out;
}

}  // namespace train
