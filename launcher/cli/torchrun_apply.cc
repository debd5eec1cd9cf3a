// Folding torchrun's flags into trainctl's: each keeps torchrun's meaning, or is refused with
// what to use instead.
#include <cstdlib>

#include "names.h"
#include "torchrun_flags.h"

namespace trainctl::cli {
namespace {

std::string Get(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

train::Status Usage(const std::string& message) { return train::InvalidArgumentError(message); }

bool IsPositiveNumber(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && value > 0;
}

// --rdzv-endpoint, --rdzv-id, --master-addr/--master-port for `trainctl agent`: where the job's
// store is (node 0 hosts it, as torchrun's static rendezvous does) and the job's id.
train::Status ApplyAgentRendezvous(const TorchrunFlags& torchrun, AgentFlags* agent) {
  std::string store = torchrun.rdzv_endpoint;
  if (!torchrun.master_addr.empty() || torchrun.master_port >= 0) {
    const std::string master =
        (torchrun.master_addr.empty() ? "127.0.0.1" : torchrun.master_addr) + ":" +
        std::to_string(torchrun.master_port < 0 ? 29500 : torchrun.master_port);
    if (!store.empty() && store != master) {
      return Usage("--rdzv-endpoint " + store + " and --master-addr/--master-port (" + master +
                   ") name two stores; give one of them");
    }
    store = master;
    // torchrun's static rendezvous: node 0 serves the store at MASTER_ADDR:MASTER_PORT.
    if (agent->host_store.empty()) agent->host_store = "auto";
  }
  if (!store.empty()) {
    if (!agent->store.empty() && agent->store != store) {
      return Usage("--store " + agent->store + " and " + store +
                   " (--rdzv-endpoint or --master-addr/--master-port) disagree; give one of them");
    }
    agent->store = store;
  }
  if (!torchrun.rdzv_id.empty()) {
    if (!agent->job_id.empty() && agent->job_id != torchrun.rdzv_id) {
      return Usage("--job-id " + agent->job_id + " and --rdzv-id " + torchrun.rdzv_id +
                   " disagree; give one of them");
    }
    agent->job_id = torchrun.rdzv_id;
  }
  if (!torchrun.local_addr.empty()) {
    return Usage(
        "--local-addr is not needed by trainctl agent: node 0 gives its workers' "
        "MASTER_ADDR as its address on the interface that routes to the store; drop it");
  }
  if (torchrun.standalone) {
    return Usage(
        "--standalone runs a job on one machine: use trainctl run (it hosts the store "
        "itself); trainctl agent is one node of a multi-host job");
  }
  return train::Status::Ok();
}

// The same flags for `trainctl run`, which runs every node of the job on this machine.
train::Status ApplyRunRendezvous(const TorchrunFlags& torchrun, JobFlags* job,
                                 std::vector<std::string>* notes) {
  job->rdzv_endpoint = torchrun.rdzv_endpoint;
  if (!torchrun.rdzv_id.empty()) {
    if (const std::string why = spec::CheckDns1123Label(torchrun.rdzv_id); !why.empty()) {
      return Usage("--rdzv-id \"" + torchrun.rdzv_id + "\" names the job (metadata.name): " + why);
    }
    job->job_name = torchrun.rdzv_id;
  }
  if (torchrun.standalone && !job->nnodes.empty() && job->nnodes != "1") {
    return Usage("--standalone runs one node, and --nnodes " + job->nnodes +
                 " asks for more; drop one of them");
  }
  if (!torchrun.node_rank.empty() && torchrun.node_rank != "0") {
    return Usage("--node-rank " + torchrun.node_rank +
                 ": trainctl run starts every node of the job on this machine; to run one node "
                 "of a multi-host job use trainctl agent --node-rank " +
                 torchrun.node_rank);
  }
  if (!torchrun.master_addr.empty() || torchrun.master_port >= 0) {
    notes->push_back(
        "trainctl: --master-addr/--master-port are not needed: trainctl run hosts its own store "
        "and gives each round a free MASTER_PORT for rank 0's TCPStore");
  }
  if (!torchrun.local_addr.empty()) {
    notes->push_back(
        "trainctl: --local-addr is not needed: every node of trainctl run is on "
        "this machine (loopback)");
  }
  return train::Status::Ok();
}

}  // namespace

train::Result<std::vector<std::string>> ApplyTorchrunFlags(
    const TorchrunFlags& torchrun, const std::map<std::string, std::string>& environment,
    JobFlags* job, AgentFlags* agent) {
  std::vector<std::string> notes;
  if (!torchrun.nproc.empty()) {
    const bool counted =
        torchrun.nproc == "auto" || torchrun.nproc == "gpu" || torchrun.nproc == "cpu";
    const Processors here = counted ? CountProcessors(environment) : Processors{};
    TRAIN_ASSIGN_OR_RETURN(job->nproc, ResolveNproc(torchrun.nproc, here));
    if (counted) {
      notes.push_back("trainctl: --nproc " + torchrun.nproc + ": " + std::to_string(job->nproc) +
                      " worker(s) per node (" + std::to_string(here.gpus) + " GPU(s), " +
                      std::to_string(here.cpus) + " CPU(s) here)");
    }
  }
  if (!torchrun.log_dir.empty()) {
    return Usage(
        "--log-dir: trainctl keeps a run's logs in its run directory (RUN_DIR/rank-N.log, "
        "a new runs/JOB/TIME for each run): use --run-dir " +
        torchrun.log_dir + " to choose it");
  }
  if (!torchrun.monitor_interval.empty() && !IsPositiveNumber(torchrun.monitor_interval)) {
    return Usage("--monitor-interval \"" + torchrun.monitor_interval +
                 "\" is not a number of seconds above 0 (trainctl notices exits at once anyway)");
  }
  if (!torchrun.start_method.empty() && torchrun.start_method != "spawn" &&
      torchrun.start_method != "fork" && torchrun.start_method != "forkserver") {
    return Usage("--start-method \"" + torchrun.start_method +
                 "\" is not spawn, fork or forkserver (every worker is a new process anyway)");
  }
  if (torchrun.master_port == 0 || torchrun.master_port > 65535) {
    return Usage("--master-port " + std::to_string(torchrun.master_port) +
                 " is not a TCP port: give one from 1 to 65535");
  }
  if (!torchrun.redirects.empty() || !torchrun.tee.empty()) {
    notes.push_back(
        "trainctl: --redirects/--tee are not needed: every rank's output is shown "
        "with a [rank N] prefix and kept in RUN_DIR/rank-N.log");
  }
  if (!torchrun.role.empty()) job->role = torchrun.role;
  TRAIN_RETURN_IF_ERROR(agent == nullptr ? ApplyRunRendezvous(torchrun, job, &notes)
                                         : ApplyAgentRendezvous(torchrun, agent));
  if (job->command.empty()) {
    if (torchrun.no_python || !torchrun.python.empty() || torchrun.module) {
      return Usage(std::string(torchrun.module      ? "-m"
                               : torchrun.no_python ? "--no-python"
                                                    : "--python") +
                   " applies to a script or module given on the command line (trainctl run "
                   "--nproc 2 train.py); a JOB.yaml's spec.command names its program itself");
    }
    return notes;
  }
  const PythonSearch search{torchrun.python, Get(environment, "TRAINCTL_PYTHON"),
                            Get(environment, "VIRTUAL_ENV"), Get(environment, "PATH"), nullptr};
  TRAIN_ASSIGN_OR_RETURN(WorkerCommand command,
                         BuildWorkerCommand(job->command, torchrun.module, torchrun.no_python,
                                            [&search] { return ChoosePython(search); }));
  job->command = command.argv;
  if (job->job_name.empty()) job->job_name = command.job_name;
  if (!command.python_note.empty()) notes.push_back(command.python_note);
  return notes;
}

train::Status ApplyJobOverrides(const JobFlags& flags, trainctl::v1alpha1::TrainingJob* job) {
  if (!flags.job_name.empty()) job->mutable_metadata()->set_name(flags.job_name);
  if (!flags.role.empty()) {
    auto* env = job->mutable_spec()->mutable_env();
    auto* role = [&]() -> trainctl::v1alpha1::EnvVar* {
      for (auto& var : *env) {
        if (var.name() == "ROLE_NAME") return &var;
      }
      auto* added = env->Add();
      added->set_name("ROLE_NAME");
      return added;
    }();
    role->set_value(flags.role);
  }
  return train::Status::Ok();
}

}  // namespace trainctl::cli
