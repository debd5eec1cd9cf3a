#include "torchrun_options.h"

#include <CLI/CLI.hpp>
#include <memory>

namespace trainctl::cli {
namespace {

constexpr char kGroup[] = "torchrun's flags (same meaning; see docs/launcher.md)";

// The usage line of `trainctl run|agent --help`: every form, not CLI11's "[OPTIONS] [JOB]".
class LaunchUsage : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    (void)name;
    const std::string me = "trainctl " + app->get_name() + " [OPTIONS]";
    return "Usage:\n  " + me + " JOB.yaml                  a TrainingJob file\n  " + me +
           " SCRIPT.py [ARGS...]       a Python script, as torchrun runs it\n  " + me +
           " -m MODULE [ARGS...]       a Python module (python -m)\n  " + me +
           " -- COMMAND [ARGS...]      any program (like torchrun --no-python)\n";
  }
};

}  // namespace

void AddTorchrunOptions(CLI::App* command, bool agent, TorchrunFlags* flags) {
  command->add_option("--nproc,--nproc-per-node,--nproc_per_node", flags->nproc,
                      "Workers per node: N, or auto (one per GPU, else one per CPU), gpu, cpu "
                      "(spec.procsPerNode)");
  command->add_flag("-m,--module", flags->module,
                    "The script is a module: run `python -m MODULE ARGS...`");
  command->add_flag("--no-python,--no_python", flags->no_python,
                    "Run the script (or program) itself, not with Python");
  command->add_option("--python", flags->python,
                      "The Python that runs a script or module (else $TRAINCTL_PYTHON, else "
                      "$VIRTUAL_ENV/bin/python, else /usr/bin/python3, else python3 on PATH)");
  command->add_flag("--standalone", flags->standalone, "One node on this machine (run's default)")
      ->group(kGroup);
  command
      ->add_option("--rdzv-endpoint,--rdzv_endpoint", flags->rdzv_endpoint,
                   agent ? "The job's store, HOST:PORT (as --store)"
                         : "Where the store listens, HOST:PORT on this machine (with "
                           "--rdzv-backend etcd: the etcd members, as --store)")
      ->group(kGroup);
  command
      ->add_option("--rdzv-id,--rdzv_id", flags->rdzv_id,
                   agent ? "The job's id (as --job-id)" : "The job's name (metadata.name)")
      ->group(kGroup);
  command
      ->add_option("--master-addr,--master_addr", flags->master_addr,
                   agent ? "Node 0's address: the store is MASTER_ADDR:MASTER_PORT, served by "
                           "node 0 (--host-store auto)"
                         : "Not needed: each round gets a free MASTER_PORT")
      ->group(kGroup);
  command
      ->add_option("--master-port,--master_port", flags->master_port,
                   agent ? "The store's port on node 0 (default 29500)"
                         : "Not needed: each round gets a free MASTER_PORT")
      ->group(kGroup);
  command
      ->add_option("--local-addr,--local_addr", flags->local_addr,
                   "Not needed (run: loopback; agent: refused, MASTER_ADDR is found)")
      ->group(kGroup);
  command->add_option("--role", flags->role, "ROLE_NAME of every worker (default \"default\")")
      ->group(kGroup);
  command
      ->add_option("--monitor-interval,--monitor_interval", flags->monitor_interval,
                   "Accepted; worker exits are noticed at once")
      ->group(kGroup);
  command
      ->add_option("--start-method,--start_method", flags->start_method,
                   "Accepted (spawn|fork|forkserver); every worker is a new process")
      ->group(kGroup);
  command
      ->add_option("-r,--redirects", flags->redirects,
                   "Accepted; output is always shown per rank and kept in RUN_DIR/rank-N.log")
      ->group(kGroup);
  command->add_option("-t,--tee", flags->tee, "Accepted, as --redirects")->group(kGroup);
  command->add_option("--log-dir,--log_dir", flags->log_dir, "Refused: use --run-dir")
      ->group(kGroup);
  if (!agent) {
    command
        ->add_option("--node-rank,--node_rank", flags->node_rank,
                     "0 only: run starts every node here (one node of many: trainctl agent)")
        ->group(kGroup);
  }
}

void SetLaunchUsage(CLI::App* command) { command->formatter(std::make_shared<LaunchUsage>()); }

void SplitCommand(CLI::App* run, CLI::App* agent, std::vector<char*>* args,
                  std::vector<std::string>* command) {
  const std::vector<std::string> text(args->begin(), args->end());
  CLI::App* launch = nullptr;
  if (text.size() > 1 && text[1] == run->get_name()) launch = run;
  if (text.size() > 1 && text[1] == agent->get_name()) launch = agent;
  if (launch != nullptr) {
    auto value_of = [launch](const std::string& name) {
      const CLI::Option* option = launch->get_option_no_throw(name);
      if (option == nullptr || option->get_items_expected_max() == 0) return OptionValue::kNone;
      return option->get_items_expected_min() > 0 ? OptionValue::kRequired : OptionValue::kOptional;
    };
    const std::size_t script = FindScript(text, 2, value_of);
    if (script < text.size()) {
      command->assign(text.begin() + static_cast<std::ptrdiff_t>(script), text.end());
      args->resize(script);
      return;
    }
  }
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (text[i] == "--") {
      command->assign(text.begin() + static_cast<std::ptrdiff_t>(i) + 1, text.end());
      args->resize(i);
      return;
    }
  }
}

}  // namespace trainctl::cli
