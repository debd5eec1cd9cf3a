#include "trial.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include "train/env.h"
#include "train/internal/process_environment.h"

namespace bench {
namespace {

namespace fs = std::filesystem;

// A port nobody listens on now (torchrun's c10d rendezvous endpoint).
train::Result<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return train::ResourceExhaustedError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  if (port < 0) return train::UnavailableError("no free loopback port");
  return port;
}

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

std::vector<std::string> WorkerArgs(const Programs& programs, const TrialConfig& config,
                                    const std::string& out_dir) {
  std::vector<std::string> args = {programs.worker, "--out", out_dir};
  if (config.fail_first) args.push_back("--fail-first");
  if (config.hold_ms > 0) {
    args.push_back("--hold-ms");
    args.push_back(std::to_string(config.hold_ms));
  }
  return args;
}

// The quick form, or, for a restart with a given backoff, a job file: the quick form has no
// flag for the backoff, whose default (1s) would otherwise be most of what is measured.
train::Result<std::vector<std::string>> TrainctlArgv(const Programs& programs,
                                                     const TrialConfig& config,
                                                     const std::string& dir) {
  const std::vector<std::string> worker = WorkerArgs(programs, config, dir + "/out");
  if (!config.fail_first || config.backoff.empty()) {
    std::vector<std::string> argv = {programs.trainctl, "run",
                                     "--nproc",         std::to_string(config.nproc),
                                     "--run-dir",       dir + "/run"};
    if (config.fail_first) {
      argv.push_back("--max-restarts");
      argv.push_back("1");
    }
    argv.push_back("--");
    argv.insert(argv.end(), worker.begin(), worker.end());
    return argv;
  }
  const std::string job_file = dir + "/job.yaml";
  std::ofstream job(job_file);
  job << "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\n"
      << "metadata: {name: bench-restart}\nspec:\n  command: [";
  for (std::size_t i = 0; i < worker.size(); ++i) job << (i ? ", " : "") << '"' << worker[i] << '"';
  job << "]\n  procsPerNode: " << config.nproc << "\n"
      << "  failurePolicy: {maxRestarts: 1, backoff: " << config.backoff << "}\n";
  if (!job.flush()) return train::FailedPreconditionError("cannot write " + job_file);
  return std::vector<std::string>{programs.trainctl, "run", job_file, "--run-dir", dir + "/run"};
}

// torch 1.13 here: c10d rendezvous on a free port, so that MASTER_PORT is left free for rank 0
// to serve libtrain's store (the default static rendezvous serves torch's own store there);
// --redirects/--tee because torchrun 1.13 crashes on Python 3.11 without them.
train::Result<std::vector<std::string>> TorchrunArgv(const Programs& programs,
                                                     const TrialConfig& config,
                                                     const std::string& dir) {
  TRAIN_ASSIGN_OR_RETURN(int port, FreePort());
  std::vector<std::string> argv = {programs.torchrun,
                                   "--nproc_per_node",
                                   std::to_string(config.nproc),
                                   "--no_python",
                                   "--rdzv_backend",
                                   "c10d",
                                   "--rdzv_endpoint",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--redirects",
                                   "1",
                                   "--tee",
                                   "1",
                                   "--log_dir",
                                   dir + "/torch-logs",
                                   "--monitor_interval",
                                   Number(config.monitor_interval),
                                   "--max_restarts",
                                   config.fail_first ? "1" : "0"};
  const std::vector<std::string> worker = WorkerArgs(programs, config, dir + "/out");
  argv.insert(argv.end(), worker.begin(), worker.end());
  return argv;
}

std::string LastLines(const std::string& path, std::size_t count) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > count) lines.pop_front();
  }
  std::string text;
  for (const std::string& l : lines) text += "  | " + l + "\n";
  return text;
}

// What the events must show for the run to count.
std::string CheckEvents(const TrialConfig& config, const std::vector<WorkerEvent>& events) {
  if (!LastOf(events, "ready", 0, config.nproc)) return "not every rank passed the barrier";
  if (!config.fail_first) return "";
  if (!TimeOf(events, "fail", 0, 0)) return "rank 0 did not record its failure";
  if (!LastOf(events, "ready", 1, config.nproc)) {
    return "not every rank of the restarted group passed the barrier";
  }
  return "";
}

}  // namespace

const char* LauncherName(Launcher launcher) {
  return launcher == Launcher::kTrainctl ? "trainctl" : "torchrun";
}

train::Result<TrialResult> RunTrial(const Programs& programs, const TrialConfig& config,
                                    const std::string& tmp_root, bool keep_failed) {
  std::string pattern = tmp_root + "/bench-launch-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return train::FailedPreconditionError("cannot create a directory under " + tmp_root + ": " +
                                          std::strerror(errno));
  }
  const std::string dir = pattern;
  std::error_code ec;
  fs::create_directories(dir + "/out", ec);

  LaunchSpec spec;
  auto argv = config.launcher == Launcher::kTrainctl ? TrainctlArgv(programs, config, dir)
                                                     : TorchrunArgv(programs, config, dir);
  if (!argv.ok()) {
    fs::remove_all(dir, ec);
    return argv.status();
  }
  spec.argv = std::move(*argv);
  spec.env = train::internal::ProcessEnvironment();
  spec.env["TMPDIR"] = dir;  // whatever a launcher puts in temporary files goes away with dir
  spec.working_dir = dir;
  spec.log_path = dir + "/launcher.log";
  spec.timeout = config.timeout;

  TrialResult result;
  auto launched = RunLauncher(spec);
  if (!launched.ok()) {
    fs::remove_all(dir, ec);
    return launched.status();
  }
  result.launch = *launched;
  auto events = ReadEvents(dir + "/out");
  if (events.ok()) result.events = std::move(*events);

  if (result.launch.timed_out) {
    result.error = "timed out";
  } else if (result.launch.exit_code != 0) {
    result.error = "exited with code " + std::to_string(result.launch.exit_code);
  } else if (!events.ok()) {
    result.error = events.status().message();
  } else {
    result.error = CheckEvents(config, result.events);
  }
  if (result.launch.leftovers > 0 && result.error.empty()) {
    result.error = std::to_string(result.launch.leftovers) + " process(es) left behind";
  }
  if (!result.error.empty()) {
    result.log_tail = LastLines(spec.log_path, 15);
    if (keep_failed) {
      result.error += " (kept " + dir + ")";
      return result;
    }
  }
  fs::remove_all(dir, ec);
  return result;
}

}  // namespace bench
