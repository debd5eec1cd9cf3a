// torchrun's command line, understood by `trainctl run` and `trainctl agent`: its flags'
// spellings, a training script or module in place of a JOB.yaml, `--nproc auto`, and which
// Python interpreter runs a script (docs/launcher.md, "Coming from torchrun").
#ifndef TRAINCTL_CLI_TORCHRUN_FLAGS_H_
#define TRAINCTL_CLI_TORCHRUN_FLAGS_H_

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "launch_commands.h"
#include "launcher/spec/trainingjob.pb.h"
#include "train/status.h"

namespace trainctl::cli {

// What torchrun users pass that JobFlags and AgentFlags do not hold as such. "" is "not given".
struct TorchrunFlags {
  std::string nproc;             // --nproc, --nproc-per-node, --nproc_per_node: N, auto, gpu, cpu
  bool standalone = false;       // --standalone
  bool no_python = false;        // --no-python, --no_python
  bool module = false;           // -m, --module: the script is a module's name
  std::string python;            // --python PATH
  std::string node_rank;         // run's --node-rank (0 only: run starts every node)
  std::string rdzv_endpoint;     // --rdzv-endpoint, --rdzv_endpoint HOST:PORT
  std::string rdzv_id;           // --rdzv-id, --rdzv_id
  std::string master_addr;       // --master-addr, --master_addr
  int master_port = -1;          // --master-port, --master_port
  std::string local_addr;        // --local-addr, --local_addr
  std::string role;              // --role
  std::string monitor_interval;  // --monitor-interval, --monitor_interval (seconds)
  std::string start_method;      // --start-method, --start_method
  std::string redirects;         // --redirects, -r
  std::string tee;               // --tee, -t
  std::string log_dir;           // --log-dir, --log_dir
};

// What an option, written without "=value", does with the argument after it.
enum class OptionValue {
  kNone,      // a flag: nothing
  kRequired,  // takes it
  kOptional,  // takes it unless it starts with '-' (--host-store [auto])
};

// Where the training script starts in `args` (a command's arguments): the first positional
// argument at or after `first` that is not a JOB file (.yaml, .yml or .json, or an existing
// file that is neither a .py script nor executable); everything from there on belongs to the
// script, as with torchrun. `value_of(name)` says what option `name` does with the argument
// after it. Returns args.size() when there is no script, or at "--" (the command after it is
// split off separately).
std::size_t FindScript(const std::vector<std::string>& args, std::size_t first,
                       const std::function<OptionValue(const std::string&)>& value_of);

// Where to look for the Python that runs a script.
struct PythonSearch {
  std::string flag;             // --python
  std::string trainctl_python;  // $TRAINCTL_PYTHON
  std::string virtual_env;      // $VIRTUAL_ENV: an activated virtual environment
  std::string path;             // $PATH
  // Whether a file exists and may be executed (injectable for tests).
  std::function<bool(const std::string&)> executable;
};

struct PythonChoice {
  std::string interpreter;  // a path
  std::string why;          // "--python", "$TRAINCTL_PYTHON", ... for the note printed once
};

// The first of: --python, $TRAINCTL_PYTHON, $VIRTUAL_ENV/bin/python, /usr/bin/python3,
// python3 on PATH. An error names what was tried and how to choose one.
train::Result<PythonChoice> ChoosePython(const PythonSearch& search);

// The quick form's command as the workers run it.
struct WorkerCommand {
  std::vector<std::string> argv;
  std::string job_name;     // after the script or module; "" leaves trainctl's default
  std::string python_note;  // which interpreter runs it, when trainctl chose one
};

// `command` is what follows the flags: a script (foo.py), "-m module ...", a bare
// python/python3 (replaced by the chosen interpreter), or a program. `module`: -m was given
// before it. `no_python`: run command[0] itself, as torchrun --no-python does.
train::Result<WorkerCommand> BuildWorkerCommand(
    const std::vector<std::string>& command, bool module, bool no_python,
    const std::function<train::Result<PythonChoice>()>& choose_python);

// The GPUs (CUDA_VISIBLE_DEVICES respected) and CPUs (this process's affinity) here.
struct Processors {
  int gpus = 0;
  int cpus = 1;
};
Processors CountProcessors(const std::map<std::string, std::string>& environment);

// --nproc N|auto|gpu|cpu: workers per node; -1 when `text` is empty (the spec's).
// auto: one per GPU, else one per CPU, as torchrun.
train::Result<int> ResolveNproc(const std::string& text, const Processors& here);

// A DNS-1123 label for a job named after a script or module: "train_mnist.py" ->
// "train-mnist", "pkg.train" -> "pkg-train".
std::string JobNameFrom(const std::string& script_or_module);

// Folds `torchrun` into the flags of `trainctl run` (agent == nullptr) or `trainctl agent`.
// Returns notes to print once (the interpreter chosen, flags that are not needed), or a usage
// error that names the flag and what to use instead.
train::Result<std::vector<std::string>> ApplyTorchrunFlags(
    const TorchrunFlags& torchrun, const std::map<std::string, std::string>& environment,
    JobFlags* job, AgentFlags* agent);

// Applies what the flags say about the job itself (--rdzv-id's name, the script's name,
// --role) once it is loaded, before it is validated.
train::Status ApplyJobOverrides(const JobFlags& flags, trainctl::v1alpha1::TrainingJob* job);

}  // namespace trainctl::cli

#endif  // TRAINCTL_CLI_TORCHRUN_FLAGS_H_
