// trainctl: the command line. Each group of commands registers itself (commands.h); main parses
// once and runs the command given.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <vector>

#include "ckpt_command.h"
#include "commands.h"
#include "k8s_commands.h"
#include "launch_commands.h"
#include "report_command.h"

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

// A store that serves many agents needs a descriptor per connection: use all the process may.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace trainctl::cli;
  RaiseOpenFileLimit();
  CLI::App app(kDescription, "trainctl");
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print the help of every command");

  std::vector<char*> args(argv, argv + argc);
  const std::vector<CommandRunner> commands = {
      AddSpecCommands(&app),  AddVersionCommand(&app),     AddDataCommands(&app),
      AddCkptCommands(&app),  AddKubernetesCommands(&app), AddLaunchCommands(&app, &args),
      AddReportCommand(&app),
  };
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
  for (const CommandRunner& command : commands) {
    if (auto code = command()) return *code;
  }
  return kExitUsage;
}
