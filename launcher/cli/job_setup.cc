#include "job_setup.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "defaults.h"
#include "job_file.h"
#include "torchrun_flags.h"
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
  if (path.rfind("spec.checkpoint.resume", 0) == 0) return "--resume";
  if (path.rfind("spec.rendezvous.backend", 0) == 0) return "--rdzv-backend";
  return "";
}

// --rdzv-backend (torchrun's names too) and, with etcd, --store's endpoints.
train::Status ApplyRendezvousFlags(const JobFlags& flags, v1::Rendezvous* rdzv) {
  const std::string& backend = flags.rdzv_backend;
  if (backend == "builtin" || backend == "c10d" || backend == "static") {
    // The flag overrides a spec's etcd cluster, and with it what only etcd uses.
    rdzv->set_backend("builtin");
    rdzv->clear_endpoints();
    rdzv->clear_auth();
  } else if (backend == "etcd" || backend == "etcd-v2") {
    rdzv->set_backend("etcd");
  } else if (!backend.empty()) {
    return train::InvalidArgumentError(
        "--rdzv-backend \"" + backend +
        "\" is not a rendezvous backend; use builtin (torchrun's c10d and static mean it too) or "
        "etcd (also etcd-v2)");
  }
  if (rdzv->backend() != "etcd" || flags.rdzv_store.empty()) return train::Status::Ok();
  rdzv->clear_endpoints();
  std::stringstream list(flags.rdzv_store);
  for (std::string endpoint; std::getline(list, endpoint, ',');) {
    if (endpoint.empty()) {
      return train::InvalidArgumentError("--store \"" + flags.rdzv_store +
                                         "\" has an empty entry; list the etcd endpoints "
                                         "separated by commas, e.g. etcd-0:2379,etcd-1:2379");
    }
    rdzv->add_endpoints(endpoint);
  }
  return train::Status::Ok();
}

train::Status ApplyFlags(const JobFlags& flags, v1::TrainingJob* job) {
  auto* spec = job->mutable_spec();
  if (flags.nproc >= 0) spec->set_procs_per_node(flags.nproc);
  if (flags.max_restarts >= 0) spec->mutable_failure_policy()->set_max_restarts(flags.max_restarts);
  if (!flags.backoff.empty()) spec->mutable_failure_policy()->set_backoff(flags.backoff);
  if (flags.resume == "auto" || flags.resume == "never" || flags.resume == "always") {
    spec->mutable_checkpoint()->set_resume(flags.resume);
  } else if (!flags.resume.empty()) {
    // A path from the command line is relative to where the command runs.
    const fs::path from = fs::absolute(flags.resume).lexically_normal();
    if (!fs::is_directory(from)) {
      return train::InvalidArgumentError("--resume=" + flags.resume + ": " + from.string() +
                                         " is not a directory; give a checkpoint directory "
                                         "(holding step-N directories) or one DIR/step-N");
    }
    spec->mutable_checkpoint()->set_resume("always");
    spec->mutable_checkpoint()->set_resume_from(from.string());
  }
  TRAIN_RETURN_IF_ERROR(ApplyRendezvousFlags(flags, spec->mutable_rendezvous()));
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
  TRAIN_RETURN_IF_ERROR(ApplyJobOverrides(flags, &prepared.job));  // torchrun_flags.h
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

namespace {

std::string TimeStamp() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
  return stamp;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

// "key=value" lines of a lock file; empty when it cannot be read.
std::map<std::string, std::string> ReadLockInfo(int fd) {
  std::map<std::string, std::string> info;
  char buffer[1024];
  const ssize_t got = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (got <= 0) return info;
  std::istringstream lines(std::string(buffer, static_cast<std::size_t>(got)));
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) info[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return info;
}

// A directory made by this call (false when it already existed).
train::Result<bool> MakeDirectory(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  return train::FailedPreconditionError("cannot create the run directory " + dir.string() + ": " +
                                        std::strerror(errno));
}

}  // namespace

train::Result<std::unique_ptr<RunDir>> RunDir::Claim(const std::string& requested,
                                                     const std::string& job_name,
                                                     const std::string& launch_id) {
  std::unique_ptr<RunDir> run(new RunDir);
  fs::path dir;
  if (!requested.empty()) {
    dir = fs::absolute(requested).lexically_normal();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir)) {
      return train::FailedPreconditionError(
          "--run-dir " + dir.string() +
          ": cannot create the directory: " + (ec ? ec.message() : "a file of that name exists"));
    }
  } else {
    const fs::path parent = fs::absolute(fs::path("runs") / job_name);
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) {
      return train::FailedPreconditionError("cannot create " + parent.string() + ": " +
                                            ec.message());
    }
    // mkdir is the arbiter: the launch whose mkdir succeeds owns the directory, so two
    // launches in the same second get their own.
    const std::string stamp = TimeStamp();
    for (int i = 1;; ++i) {
      if (i > 10000) {
        return train::FailedPreconditionError("cannot find a free run directory name under " +
                                              parent.string());
      }
      dir = parent / (i == 1 ? stamp : stamp + "-" + std::to_string(i));
      TRAIN_ASSIGN_OR_RETURN(bool made, MakeDirectory(dir));
      if (made) break;
    }
  }
  run->path_ = dir.string();
  run->launch_id_ =
      launch_id.empty() ? dir.filename().string() + "-" + std::to_string(getpid()) : launch_id;

  const std::string lock_path = (dir / kRunDirLockName).string();
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return train::FailedPreconditionError("cannot open the run directory's lock " + lock_path +
                                          ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    std::map<std::string, std::string> holder = ReadLockInfo(fd);
    ::close(fd);
    if (error != EWOULDBLOCK) {
      return train::FailedPreconditionError("cannot lock " + lock_path + ": " +
                                            std::strerror(error));
    }
    // The agents of one `trainctl run --nnodes` share the directory its launcher holds.
    if (!launch_id.empty() && holder["launch"] == launch_id) return run;
    return train::FailedPreconditionError(
        "the run directory " + dir.string() + " is in use by another run (pid " +
        (holder["pid"].empty() ? "?" : holder["pid"]) + " on " +
        (holder["host"].empty() ? "?" : holder["host"]) + ", launch " +
        (holder["launch"].empty() ? "?" : holder["launch"]) +
        "); wait for it to end, or give another --run-dir (or none: each run gets a new one)");
  }
  run->lock_fd_ = fd;
  const std::string info = "pid=" + std::to_string(getpid()) + "\nhost=" + HostName() +
                           "\nlaunch=" + run->launch_id_ + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, info.data(), info.size(), 0) != static_cast<ssize_t>(info.size())) {
    return train::FailedPreconditionError("cannot write the run directory's lock " + lock_path +
                                          ": " + std::strerror(errno));
  }
  return run;
}

RunDir::~RunDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
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
