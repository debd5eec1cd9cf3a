#include "job_setup.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "defaults.h"
#include "job_file.h"
#include "validate.h"

namespace trainctl::cli {
namespace {

namespace fs = std::filesystem;
namespace v1 = trainctl::v1alpha1;

// A DNS-1123 label from a program name: "./train_mnist.py" -> "train-mnist-py".
std::string JobNameFor(const std::string& program) {
  std::string name;
  for (char c : fs::path(program).filename().string()) {
    char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9');
    if (ok) {
      name += lower;
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.size() > 63) name.resize(63);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.empty() ? "job" : name;
}

// Which flag sets a spec field, so that errors about flags name the flag.
std::string FlagFor(const std::string& path) {
  if (path.rfind("spec.procsPerNode", 0) == 0) return "--nproc";
  if (path.rfind("spec.nodes", 0) == 0) return "--nnodes";
  if (path.rfind("spec.failurePolicy.maxRestarts", 0) == 0) return "--max-restarts";
  if (path.rfind("spec.failurePolicy.backoff", 0) == 0) return "--backoff";
  return "";
}

train::Status ApplyFlags(const JobFlags& flags, v1::TrainingJob* job) {
  auto* spec = job->mutable_spec();
  if (flags.nproc >= 0) spec->set_procs_per_node(flags.nproc);
  if (flags.max_restarts >= 0) spec->mutable_failure_policy()->set_max_restarts(flags.max_restarts);
  if (!flags.backoff.empty()) spec->mutable_failure_policy()->set_backoff(flags.backoff);
  if (!flags.nnodes.empty()) {
    const std::size_t colon = flags.nnodes.find(':');
    try {
      std::size_t used = 0;
      const std::string min_text = flags.nnodes.substr(0, colon);
      const std::string max_text =
          colon == std::string::npos ? min_text : flags.nnodes.substr(colon + 1);
      int min = std::stoi(min_text, &used);
      if (used != min_text.size()) throw std::invalid_argument(min_text);
      int max = std::stoi(max_text, &used);
      if (used != max_text.size()) throw std::invalid_argument(max_text);
      spec->mutable_nodes()->set_min(min);
      spec->mutable_nodes()->set_max(max);
    } catch (const std::exception&) {
      return train::InvalidArgumentError(
          "--nnodes \"" + flags.nnodes +
          "\" is not a node count; write N or MIN:MAX, e.g. 2 or 1:4");
    }
  }
  return train::Status::Ok();
}

}  // namespace

train::Result<PreparedJob> PrepareJob(const JobFlags& flags) {
  PreparedJob prepared;
  fs::path base_dir = fs::current_path();
  if (!flags.job_file.empty()) {
    if (!flags.command.empty()) {
      return train::InvalidArgumentError(
          "give either a JOB.yaml or a command after --, not both (the command is the spec's "
          "spec.command)");
    }
    spec::JobFile file = spec::LoadJobFile(flags.job_file);
    if (!file.ok()) return train::InvalidArgumentError(file.FormatErrors());
    prepared.job = std::move(file.job);
    base_dir = fs::absolute(flags.job_file).parent_path();
  } else {
    if (flags.command.empty()) {
      return train::InvalidArgumentError(
          "nothing to run: give a JOB.yaml (trainctl run job.yaml) or a command after -- "
          "(trainctl run --nproc 4 -- ./train --epochs 3)");
    }
    auto& job = prepared.job;
    job.set_api_version("trainctl.dev/v1alpha1");
    job.set_kind("TrainingJob");
    job.mutable_metadata()->set_name(JobNameFor(flags.command.front()));
    for (const std::string& arg : flags.command) job.mutable_spec()->add_command(arg);
    // Like torchrun, the quick form does not restart unless asked to.
    job.mutable_spec()->mutable_failure_policy()->set_max_restarts(0);
  }
  TRAIN_RETURN_IF_ERROR(ApplyFlags(flags, &prepared.job));
  spec::ApplyDefaults(&prepared.job);
  spec::Diagnostics errors(nullptr);
  spec::Validate(prepared.job, &errors);
  std::string messages;
  for (const spec::Diagnostic& d : errors.Take()) {
    const std::string flag = FlagFor(d.path);
    messages += (flag.empty() ? d.path : flag + " (" + d.path + ")") + ": " + d.message + "\n";
  }
  if (!messages.empty()) return train::InvalidArgumentError(messages);
  if (!flags.working_dir.empty()) {
    // A pod's agent reads its spec from a read-only mount: its workers start in the image's
    // working directory, which is the agent's own.
    prepared.working_dir = fs::absolute(flags.working_dir).lexically_normal().string();
    if (!fs::is_directory(prepared.working_dir)) {
      return train::InvalidArgumentError("--working-dir: " + prepared.working_dir +
                                         " is not a directory");
    }
    return prepared;
  }
  prepared.working_dir = (base_dir / prepared.job.spec().working_dir()).lexically_normal().string();
  if (!fs::is_directory(prepared.working_dir)) {
    return train::InvalidArgumentError("spec.workingDir: " + prepared.working_dir +
                                       " is not a directory (relative paths are relative to "
                                       "the spec file's directory)");
  }
  return prepared;
}

train::Result<std::string> MakeRunDir(const std::string& requested, const std::string& job_name) {
  fs::path dir;
  if (!requested.empty()) {
    dir = fs::absolute(requested);
  } else {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
    dir = fs::absolute(fs::path("runs") / job_name / stamp);
    // Two runs in the same second get their own directories.
    for (int i = 2; fs::exists(dir); ++i) {
      dir = fs::absolute(fs::path("runs") / job_name /
                         (std::string(stamp) + "-" + std::to_string(i)));
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return train::FailedPreconditionError("cannot create the run directory " + dir.string() + ": " +
                                          ec.message());
  }
  return dir.string();
}

train::Status WriteTokenFile(const std::string& path, const std::string& token) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return train::FailedPreconditionError("cannot write the token file " + path + ": " +
                                          std::strerror(errno));
  }
  const std::string text = token + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = (::close(fd) == 0) && ok;
  if (!ok) return train::DataLossError("cannot write the token file " + path);
  return train::Status::Ok();
}

struct SignalWatcher::Impl {
  std::thread thread;
  std::atomic<bool> done{false};
  sigset_t set;
};

namespace {

sigset_t WatchedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // wakes the watcher at shutdown
  return set;
}

}  // namespace

void BlockStopSignals() {
  // A shell starts background jobs with SIGINT ignored, and an ignored signal never reaches
  // sigwait: trainctl always wants to hear it, to stop its workers.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t set = WatchedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher(std::function<void(int, int)> on_signal) : impl_(new Impl) {
  impl_->set = WatchedSignals();
  pthread_sigmask(SIG_BLOCK, &impl_->set, nullptr);
  impl_->thread = std::thread([impl = impl_, on_signal = std::move(on_signal)] {
    int count = 0;
    while (true) {
      int signal = 0;
      if (sigwait(&impl->set, &signal) != 0) continue;
      if (impl->done) return;
      if (signal == SIGUSR1) continue;
      on_signal(signal, ++count);
    }
  });
}

SignalWatcher::~SignalWatcher() {
  impl_->done = true;
  pthread_kill(impl_->thread.native_handle(), SIGUSR1);
  impl_->thread.join();
  delete impl_;
}

}  // namespace trainctl::cli
