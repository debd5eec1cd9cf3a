#include "goodput_run.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <vector>

#include "goodput_proc.h"
#include "launcher_process.h"
#include "summary.h"

namespace bench {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::regex kStepLine(R"(\[rank 0\] epoch \d+/\d+ step (\d+)/)");
const std::regex kResumedLine(R"(resumed from .*\(step ([0-9]+)\))");
const std::regex kRoundLine(R"(trainctl: round (\d+):)");
const std::regex kParamsLine(R"(final params_sha256=([0-9a-f]+))");

// The number `re` captures in `text`, or -1.
long Number(const std::string& text, const std::regex& re) {
  std::smatch match;
  return std::regex_search(text, match, re) ? std::stol(match[1].str()) : -1;
}

double Seconds(GoodputClock::duration d) { return std::chrono::duration<double>(d).count(); }

// The job: 2 nodes x 1 worker, deterministic CPU all-reduce, rank 0 printing every step.
std::string WriteSpec(const GoodputConfig& c, Recovery recovery, const std::string& tag) {
  const std::string path = c.work_dir + "/" + tag + ".yaml";
  const std::string ckpt = c.work_dir + "/" + tag + "-ckpt";
  std::ofstream(path)
      << "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: goodput}\n"
      << "spec:\n  command: [\"" << c.train << "\", --train-data, \"" << c.train_data
      << "\", --test-data, \"" << c.test_data
      << "\", --limit, \"8192\", --global-batch, \"64\", --steps, \"" << c.steps
      << "\", --log-every, \"1\", --deterministic, \"true\"]\n"
      << "  procsPerNode: 1\n  nodes: 2\n"
      << "  env: [{name: OPENBLAS_NUM_THREADS, value: \"1\"}]\n"
      << "  failurePolicy: {maxRestarts: 3, backoff: 100ms}\n"
      << "  collectives: {backend: cpu, timeout: 60s}\n"
      << "  rendezvous: {joinTimeout: 180s, heartbeat: 200ms, heartbeatTimeout: 2s}\n"
      << (recovery == Recovery::kDisk
              ? "  checkpoint: {dir: \"" + ckpt + "\", everySteps: 50, keep: 2}\n"
              : "  checkpoint: {dir: \"" + ckpt +
                    "\", everySteps: 200, keep: 2, memory: {everySteps: 1, replicas: 1}}\n");
  return path;
}

// The agents of one run, those killed included, and their output.
class Job {
 public:
  Job(const GoodputConfig& c, Recovery recovery, const std::string& tag)
      : c_(c), tag_(tag), log_dir_(c.work_dir + "/" + tag), port_(FreeLoopbackPort()) {
    fs::create_directories(log_dir_);
    job_ = WriteSpec(c, recovery, tag);
    token_ = log_dir_ + "/token";
    std::ofstream(token_) << "goodput-" << tag << "-0123456789abcdef0123456789abcdef\n";
    ::chmod(token_.c_str(), 0600);
  }
  ~Job() {
    agents_.clear();  // kills what still runs, reaps it
    KillOrphans();
  }

  // `trainctl agent` for `node` as `name`, reaching the store at `store_host` (and hosting it
  // there when `host`), else publishing `bind` as where it would host it.
  train::Result<Child*> Start(const std::string& name, int node, const std::string& store_host,
                              bool host, const std::string& bind) {
    std::vector<std::string> argv = {c_.trainctl,
                                     "agent",
                                     job_,
                                     "--store",
                                     store_host + ":" + std::to_string(port_),
                                     "--token-file",
                                     token_,
                                     "--node-rank",
                                     std::to_string(node),
                                     "--run-dir",
                                     log_dir_ + "/" + name,
                                     "--launch-id",
                                     "goodput-" + tag_,
                                     host ? "--host-store=true" : "--host-store=false"};
    if (!bind.empty()) {
      argv.push_back("--store-bind");
      argv.push_back(bind);
    }
    agents_.push_back(std::make_unique<Child>(name, argv, log_dir_ + "/" + name + ".out", &log_));
    TRAIN_RETURN_IF_ERROR(agents_.back()->Start());
    return agents_.back().get();
  }
  train::Result<Child*> Node0(const std::string& name) {
    return Start(name, 0, "127.0.0.1", true, "");
  }
  train::Result<Child*> Node1(const std::string& name) {
    return Start(name, 1, "127.0.0.1", false, "127.0.0.2");
  }

  OutputLog& log() { return log_; }
  int port() const { return port_; }
  const std::string& log_dir() const { return log_dir_; }
  train::Status Failed(const std::string& what) const {
    return train::InternalError(tag_ + ": " + what + " (logs in " + log_dir_ + ")\n" +
                                log_.Tail(20));
  }

 private:
  const GoodputConfig& c_;
  std::string tag_, log_dir_, job_, token_;
  int port_;
  OutputLog log_;
  std::vector<std::unique_ptr<Child>> agents_;
};

// What the calm run's output shows: the step time and the program's own start.
train::Status ReadCalm(const std::vector<OutputLine>& lines, GoodputResult* r) {
  std::optional<GoodputClock::time_point> round0, step1, previous;
  std::vector<double> steps;
  for (const OutputLine& line : lines) {
    if (!round0 && Number(line.text, kRoundLine) == 0) round0 = line.at;
    const long step = Number(line.text, kStepLine);
    if (step < 0) continue;
    if (step == 1) step1 = line.at;
    if (previous) steps.push_back(Seconds(line.at - *previous));
    previous = line.at;
  }
  if (!round0 || !step1 || steps.empty()) {
    return train::InternalError("calm run: no \"round 0:\" line or no step lines");
  }
  r->step_s = Summarize(steps).median;
  r->start_s = Seconds(*step1 - *round0) - r->step_s;
  r->train_s = Seconds(*previous - *round0);
  return train::Status::Ok();
}

// What a fault run's output shows about its recovery from the fault at `fault`.
train::Status ReadRecovery(const std::vector<OutputLine>& lines, GoodputClock::time_point fault,
                           GoodputResult* r) {
  bool round_seen = false, resumed_seen = false, training = false;
  r->last_step_before = -1;
  for (const OutputLine& line : lines) {
    const long step = Number(line.text, kStepLine);
    if (line.at < fault) {
      r->last_step_before = std::max(r->last_step_before, step);
      continue;
    }
    if (!round_seen && Number(line.text, kRoundLine) >= 0) {
      round_seen = true;
      r->to_round_s = Seconds(line.at - fault);
    }
    if (const long resumed = Number(line.text, kResumedLine); resumed >= 0) {
      resumed_seen = true;
      r->resumed_step = resumed;
    }
    // The first step of the new group: after its resume (or from step 0 without one).
    if (step >= 0 && ((resumed_seen && step == r->resumed_step + 1) ||
                      (!resumed_seen && round_seen && step == 1))) {
      r->to_training_s = Seconds(line.at - fault);
      training = true;
      break;
    }
  }
  if (r->last_step_before < 0) return train::InternalError("no step line before the fault");
  if (!training) return train::InternalError("no step line after a resume");
  return train::Status::Ok();
}

}  // namespace

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "none";
    case Fault::kWorker:
      return "worker";
    case Fault::kNode:
      return "node";
    case Fault::kStoreNode:
      return "store-node";
    case Fault::kSigterm:
      return "sigterm";
  }
  return "?";
}

const char* RecoveryName(Recovery recovery) {
  return recovery == Recovery::kDisk ? "disk" : "memory";
}

train::Result<GoodputResult> RunGoodput(const GoodputConfig& c, Fault fault, Recovery recovery,
                                        const std::string& tag) {
  Job job(c, recovery, tag);
  const milliseconds limit = seconds(c.run_timeout_s);
  TRAIN_ASSIGN_OR_RETURN(Child * a, job.Node0("agent0"));
  TRAIN_ASSIGN_OR_RETURN(Child * b, job.Node1("agent1"));
  std::vector<Child*> last = {a, b};  // the agents that must end the job with 0

  GoodputClock::time_point at;
  if (fault != Fault::kNone) {
    const long target = c.fault_at_step;
    const auto reached = [&](const OutputLine& l) { return Number(l.text, kStepLine) >= target; };
    bool at_target = false;
    for (const auto until = GoodputClock::now() + limit; !at_target;) {
      at_target = job.log().WaitFor(reached, seconds(1)).has_value();
      const bool over = a->Wait(milliseconds(0)) && b->Wait(milliseconds(0));
      if (!at_target && (over || GoodputClock::now() >= until)) {
        return job.Failed("rank 0 never reached step " + std::to_string(target));
      }
    }
  }
  switch (fault) {
    case Fault::kNone:
      break;
    case Fault::kWorker: {
      const pid_t worker = FindDescendant(b->pid(), c.train);
      if (worker <= 0) return job.Failed("no worker process under agent1");
      at = GoodputClock::now();
      ::kill(worker, SIGKILL);
      break;
    }
    case Fault::kNode: {
      at = GoodputClock::now();
      b->Signal(SIGKILL);  // its watchdog takes its worker down
      b->Wait(seconds(10));
      TRAIN_ASSIGN_OR_RETURN(last[1], job.Node1("agent1-again"));
      break;
    }
    case Fault::kStoreNode: {
      at = GoodputClock::now();
      a->Signal(SIGKILL);  // the store goes with its host
      a->Wait(seconds(10));
      const std::string moved = "this node hosts it now on 127.0.0.2:" + std::to_string(job.port());
      if (!job.log().WaitFor(
              [&](const OutputLine& l) { return l.text.find(moved) != std::string::npos; },
              seconds(120))) {
        return job.Failed("node 1 did not take the store over");
      }
      // The replacement node 0 joins where the store is now.
      TRAIN_ASSIGN_OR_RETURN(last[0],
                             job.Start("agent0-again", 0, "127.0.0.2", false, "127.0.0.3"));
      break;
    }
    case Fault::kSigterm: {
      at = GoodputClock::now();
      a->Signal(SIGTERM);
      b->Signal(SIGTERM);
      for (Child* agent : {a, b}) {
        const std::optional<int> code = agent->Wait(seconds(120));
        if (code != 75) {
          return job.Failed(agent->name() + " exited " +
                            (code ? std::to_string(*code) : std::string("not")) +
                            " after SIGTERM, not 75");
        }
      }
      TRAIN_ASSIGN_OR_RETURN(last[0], job.Node0("agent0-again"));
      TRAIN_ASSIGN_OR_RETURN(last[1], job.Node1("agent1-again"));
      break;
    }
  }
  for (Child* agent : last) {
    const std::optional<int> code = agent->Wait(limit);
    if (code != 0) {
      return job.Failed(agent->name() + (code ? " exited " + std::to_string(*code)
                                              : std::string(" did not end in time")));
    }
  }

  GoodputResult r;
  r.log_dir = job.log_dir();
  const std::vector<OutputLine> lines = job.log().Snapshot();
  for (const OutputLine& line : lines) {
    std::smatch match;
    if (std::regex_search(line.text, match, kParamsLine)) r.params_sha256 = match[1].str();
  }
  if (r.params_sha256.empty()) return job.Failed("no final params_sha256 line");
  const train::Status read =
      fault == Fault::kNone ? ReadCalm(lines, &r) : ReadRecovery(lines, at, &r);
  if (!read.ok()) return job.Failed(read.message());
  return r;
}

}  // namespace bench
