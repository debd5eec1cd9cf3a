#include "torchrun_flags.h"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <sstream>

#include "names.h"
#include "train/device.h"
#include "train/version.h"

namespace trainctl::cli {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsExecutableFile(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

// A JOB file: .yaml, .yml or .json, or a file that is neither a .py script nor executable.
bool IsJobFile(const std::string& arg) {
  if (EndsWith(arg, ".yaml") || EndsWith(arg, ".yml") || EndsWith(arg, ".json")) return true;
  if (EndsWith(arg, ".py")) return false;
  struct stat info {};
  return ::stat(arg.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(arg.c_str(), X_OK) != 0;
}

// "python", "python3", "python3.11": a Python named without a directory, found through PATH.
bool IsBarePython(const std::string& program) {
  if (program.find('/') != std::string::npos || program.rfind("python", 0) != 0) return false;
  for (char c : program.substr(6)) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return true;
}

bool IsPython(const std::string& program) {
  return IsBarePython(fs::path(program).filename().string());
}

// Whole-string non-negative integer, or -1.
int ParseCount(const std::string& text) {
  if (text.empty() || text.size() > 6) return -1;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  }
  return std::stoi(text);
}

}  // namespace

std::size_t FindScript(const std::vector<std::string>& args, std::size_t first,
                       const std::function<OptionValue(const std::string&)>& value_of) {
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return args.size();
    if (arg.size() > 1 && arg[0] == '-') {
      if (arg.find('=') != std::string::npos || i + 1 == args.size()) continue;
      const OptionValue value = value_of(arg);
      if (value == OptionValue::kRequired ||
          (value == OptionValue::kOptional && args[i + 1].rfind('-', 0) != 0)) {
        ++i;
      }
      continue;
    }
    if (!IsJobFile(arg)) return i;
  }
  return args.size();
}

train::Result<PythonChoice> ChoosePython(const PythonSearch& search) {
  auto executable = search.executable ? search.executable : IsExecutableFile;
  auto chosen = [&](const std::string& path, const std::string& source,
                    const std::string& why) -> train::Result<PythonChoice> {
    if (!executable(path)) {
      return train::InvalidArgumentError(source + " names " + path +
                                         ", which is not an executable file; give the path of a "
                                         "Python interpreter, e.g. /usr/bin/python3");
    }
    return PythonChoice{path, why};
  };
  if (!search.flag.empty()) return chosen(search.flag, "--python", "--python");
  if (!search.trainctl_python.empty()) {
    return chosen(search.trainctl_python, "TRAINCTL_PYTHON", "$TRAINCTL_PYTHON");
  }
  if (!search.virtual_env.empty()) {
    const std::string venv_python = search.virtual_env + "/bin/python";
    if (executable(venv_python)) return PythonChoice{venv_python, "the active $VIRTUAL_ENV"};
  }
  if (executable("/usr/bin/python3")) return PythonChoice{"/usr/bin/python3", "the system's"};
  std::stringstream dirs(search.path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/python3";
    if (executable(candidate)) return PythonChoice{candidate, "python3 on PATH"};
  }
  return train::NotFoundError(
      "no Python interpreter to run the script: tried $VIRTUAL_ENV/bin/python, /usr/bin/python3 "
      "and python3 on PATH; give --python PATH (or set TRAINCTL_PYTHON), or --no-python to run "
      "the file itself");
}

train::Result<WorkerCommand> BuildWorkerCommand(
    const std::vector<std::string>& command, bool module, bool no_python,
    const std::function<train::Result<PythonChoice>()>& choose_python) {
  WorkerCommand out;
  std::vector<std::string> rest = command;
  if (!rest.empty() && rest.front() == "-m") {
    module = true;
    rest.erase(rest.begin());
  }
  if (module && no_python) {
    return train::InvalidArgumentError(
        "-m and --no-python cannot go together: a module is run by Python (python -m MODULE); "
        "drop --no-python, or give the program to run instead of -m");
  }
  if (module && rest.empty()) {
    return train::InvalidArgumentError("-m needs a module's name, e.g. trainctl run -m pkg.train");
  }
  if (rest.empty()) return out;
  const std::string& program = rest.front();
  auto with_python = [&](std::vector<std::string> args) -> train::Status {
    TRAIN_ASSIGN_OR_RETURN(PythonChoice python, choose_python());
    out.python_note = "trainctl: Python workers run " + python.interpreter + " (" + python.why +
                      "; --python PATH or $TRAINCTL_PYTHON choose another)";
    out.argv = {python.interpreter};
    out.argv.insert(out.argv.end(), args.begin(), args.end());
    return train::Status::Ok();
  };
  if (module) {
    out.job_name = JobNameFrom(program);
    rest.insert(rest.begin(), "-m");
    TRAIN_RETURN_IF_ERROR(with_python(rest));
    return out;
  }
  if (no_python) {
    out.argv = rest;
    return out;
  }
  if (EndsWith(program, ".py")) {
    out.job_name = JobNameFrom(program);
    TRAIN_RETURN_IF_ERROR(with_python(rest));
    return out;
  }
  if (IsPython(program)) {
    // Named after what Python runs: the module after -m, else the first .py argument.
    for (std::size_t i = 1; i < rest.size(); ++i) {
      if (rest[i] == "-m" && i + 1 < rest.size()) {
        out.job_name = JobNameFrom(rest[i + 1]);
        break;
      }
      if (EndsWith(rest[i], ".py")) {
        out.job_name = JobNameFrom(rest[i]);
        break;
      }
    }
    if (IsBarePython(program)) {
      TRAIN_RETURN_IF_ERROR(with_python({rest.begin() + 1, rest.end()}));
      return out;
    }
  }
  out.argv = rest;
  return out;
}

Processors CountProcessors(const std::map<std::string, std::string>& environment) {
  Processors here;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) here.cpus = CPU_COUNT(&set);
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (here.cpus < 1) here.cpus = online > 0 ? static_cast<int>(online) : 1;
  if (train::BuiltWithCuda()) {
    auto devices = train::ListCudaDevices();
    here.gpus = devices.ok() ? static_cast<int>(devices->size()) : 0;
    return here;
  }
  // Without CUDA in this build, the driver's device files say what torch would see.
  for (int i = 0; i < 64; ++i) {
    if (fs::exists("/dev/nvidia" + std::to_string(i))) ++here.gpus;
  }
  auto visible = environment.find("CUDA_VISIBLE_DEVICES");
  if (visible != environment.end() && here.gpus > 0) {
    int listed = 0;
    std::stringstream ids(visible->second);
    for (std::string id; std::getline(ids, id, ',');) listed += id.empty() ? 0 : 1;
    here.gpus = std::min(here.gpus, listed);
  }
  return here;
}

train::Result<int> ResolveNproc(const std::string& text, const Processors& here) {
  if (text.empty()) return -1;
  if (text == "auto") return here.gpus > 0 ? here.gpus : here.cpus;
  if (text == "cpu") return here.cpus;
  if (text == "gpu") {
    if (here.gpus == 0) {
      return train::InvalidArgumentError(
          "--nproc gpu: no GPU is visible here; give a number, or auto (one worker per GPU, "
          "else per CPU), or cpu");
    }
    return here.gpus;
  }
  // 0 goes on to the spec's validation, which names spec.procsPerNode's range.
  const int count = ParseCount(text);
  if (count < 0) {
    return train::InvalidArgumentError("--nproc \"" + text +
                                       "\" is not a number of workers: give N (1 or more), or "
                                       "auto (one per GPU, else per CPU), gpu or cpu");
  }
  return count;
}

std::string JobNameFrom(const std::string& script_or_module) {
  std::string base = fs::path(script_or_module).filename().string();
  if (EndsWith(base, ".py")) base.resize(base.size() - 3);
  std::string name;
  for (char c : base) {
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9')) {
      name += lower;
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  if (name.size() > 63) name.resize(63);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.empty() ? "job" : name;
}

}  // namespace trainctl::cli
