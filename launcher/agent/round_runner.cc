#include "round_runner.h"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "agent_metrics.h"
#include "duration.h"
#include "failure_report.h"
#include "job_outcome.h"
#include "preemption.h"
#include "round_liveness.h"
#include "torch_env.h"
#include "torch_master.h"
#include "train/internal/env_names.h"
#include "train/internal/job_keys.h"
#include "train/internal/process_environment.h"
#include "train/worker.h"
#include "worker_group.h"

namespace trainctl::agent {
namespace {

using Clock = std::chrono::steady_clock;

// How often the monitor looks for worker exits and at what the restart watch saw.
constexpr Milliseconds kTick{50};
// How often node 0 publishes rank 0's step for the status line (which redraws at this pace).
constexpr Milliseconds kProgressEvery{250};
constexpr char kRestartKey[] = "restart";
// How often a node that checks for the job's end looks, once its own workers are done.
constexpr Milliseconds kDoneCheckEvery{200};
// The longest one parked watch of the restart key lasts (a forced stop waits for it).
constexpr Milliseconds kMaxWatchSlice{1000};
constexpr char kFailureKey[] = "failure";

}  // namespace

void KillSwitch::Arm(WorkerGroup* group) {
  std::lock_guard<std::mutex> lock(mutex_);
  group_ = group;
  if (fired_ && group_ != nullptr) group_->Signal(SIGKILL);
}

void KillSwitch::Disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  group_ = nullptr;
}

void KillSwitch::Fire() {
  std::lock_guard<std::mutex> lock(mutex_);
  fired_ = true;
  if (group_ != nullptr) group_->Signal(SIGKILL);
}

RoundRunner::RoundRunner(const AgentOptions& options, const NodeResources& node, Terminal* terminal,
                         train::Store* client, std::string host, KillSwitch* kill_switch)
    : options_(options),
      node_(node),
      terminal_(terminal),
      client_(client),
      host_(std::move(host)),
      kill_switch_(kill_switch) {}

int RoundRunner::RestartsSpent(const Round& round) {
  auto job_store =
      train::NewPrefixStore(train::internal::JobKeyPrefix(options_.job.metadata().name()), client_);
  return round.restart_count - preempted_restarts_.Get(job_store.get());
}

namespace {

// The state of one round on this node, and the decisions taken from it.
class RoundMonitor {
 public:
  RoundMonitor(const AgentOptions& options, const NodeResources& node, Terminal* terminal,
               train::Store* client, const std::string& host, const Round& round,
               KillSwitch* kill_switch, PreemptedRestarts* preempted_restarts)
      : kill_switch_(kill_switch),
        preempted_restarts_(preempted_restarts),
        options_(options),
        node_(node),
        spec_(options.job.spec()),
        terminal_(terminal),
        host_(host),
        round_(round),
        job_store_(train::NewPrefixStore(
            train::internal::JobKeyPrefix(options.job.metadata().name()), client)),
        round_store_(
            train::NewPrefixStore(train::internal::RoundKeyPrefix(options.job.metadata().name(),
                                                                  std::to_string(round.id)),
                                  client)),
        heartbeat_(spec::ValidatedMillis(spec_.rendezvous().heartbeat())),
        heartbeat_timeout_(spec::ValidatedMillis(spec_.rendezvous().heartbeat_timeout())),
        preemption_grace_(PreemptionGrace(spec_)),
        nproc_(spec_.procs_per_node()) {}

  RoundEnd Run(const std::atomic<bool>& stop, const std::atomic<bool>& force) {
    // Workers read the heartbeat settings from here (train::Worker).
    (void)round_store_->Set(
        train::internal::kRoundConfigKey,
        std::to_string(heartbeat_.count()) + " " + std::to_string(heartbeat_timeout_.count()));
    if (round_.node_rank == 0) {
      Say("round " + std::to_string(round_.id) + ": " + std::to_string(round_.num_nodes()) +
          " node(s), " + std::to_string(round_.num_nodes() * nproc_) + " worker(s), restart " +
          std::to_string(round_.restart_count));
    }
    auto master = AgreeTorchMaster(round_store_.get(), round_.node_rank, host_, options_.store,
                                   2 * heartbeat_timeout_, &master_port_);
    if (master.ok()) torch_master_ = *master;
    if (!master.ok()) Say("no MASTER_ADDR/MASTER_PORT this round: " + master.status().message());
    auto group = WorkerGroup::Start(WorkerSpecs(), terminal_);
    if (!group.ok()) {
      FailureReport report;
      report.node_rank = round_.node_rank;
      report.host = host_;
      report.exit_code = kExitCommandNotFound;
      report.when = WallClockNow();
      report.reason = "could not start the workers: " + group.status().message();
      report.reporter = round_.node_rank;
      return Fail(report, report.reason);
    }
    group_ = std::move(*group);
    kill_switch_->Arm(group_.get());
    NoteRoundStarted(node_.metrics, round_, nproc_, group_->pids());
    for (int local = 0; local < nproc_; ++local) running_.insert(round_.node_rank * nproc_ + local);
    NodeHeartbeat node_heartbeat(round_store_.get(), round_.node_rank, heartbeat_,
                                 heartbeat_timeout_);
    RestartWatch restart(round_store_.get(), kRestartKey, std::min(heartbeat_, kMaxWatchSlice));
    const auto started = Clock::now();
    auto next_scan = started;
    while (true) {
      if (stop) {
        if (force) {
          group_->Stop(Milliseconds(0));
        } else {
          StopForPreemption();
        }
        return {RoundEnd::kStopped, 0};
      }
      if (auto exit = group_->WaitAny(kTick)) {
        OnExit(*exit);
        if (local_done_ == nproc_) next_scan = Clock::now();  // the job may be done: look now
      }
      if (auto reason = restart.reason()) return EndRound(*reason, force);
      PublishProgress();
      if (node_heartbeat.SinceLastBeat() > heartbeat_timeout_ || node_heartbeat.StoreRefuses()) {
        const std::string reason =
            "node " + std::to_string(round_.node_rank) + " cannot reach the store at " +
            options_.store.ToString() + " for " +
            std::to_string(node_heartbeat.SinceLastBeat().count()) + " ms" +
            (node_heartbeat.StoreRefuses() ? " (nothing listens there any more)" : "");
        Say(reason + ": stopping its workers (fenced)");
        group_->Stop(options_.stop_grace);
        return {RoundEnd::kFenced, 0, reason};
      }
      // A node that checks for the job's end does so often once its own workers are done.
      const bool finishing = local_done_ == nproc_ && round_.node_rank <= kWatchedPeers;
      if (Clock::now() >= next_scan) {
        if (auto end = Scan(Clock::now() - started >= heartbeat_timeout_)) return *end;
        next_scan = Clock::now() + (finishing ? std::min(heartbeat_, kDoneCheckEvery) : heartbeat_);
      }
    }
  }

 private:
  void Say(const std::string& line) { terminal_->WriteLine("trainctl: " + line); }

  // Rank 0's latest step, for `trainctl run`'s status line: node 0 writes it to the round's
  // keys when it moved, at most every kProgressEvery (not a store write per step).
  void PublishProgress() {
    if (node_.metrics == nullptr || round_.node_rank != 0 || Clock::now() < next_progress_) return;
    next_progress_ = Clock::now() + kProgressEvery;
    const std::optional<std::int64_t> step = node_.metrics->LatestStep(0);
    if (!step || *step == published_step_) return;
    if (round_store_->Set(kProgressKey, std::to_string(*step)).ok()) published_step_ = *step;
  }

  std::string LogPath(int rank) const {
    return (std::filesystem::path(options_.run_dir) / ("rank-" + std::to_string(rank) + ".log"))
        .string();
  }

  std::vector<WorkerSpec> WorkerSpecs() const {
    const std::map<std::string, std::string> inherited = train::internal::ProcessEnvironment();
    std::vector<WorkerSpec> specs;
    for (int local = 0; local < nproc_; ++local) {
      train::WorkerEnv w;
      w.launcher = train::Launcher::kTrainctl;
      w.local_rank = local;
      w.local_world_size = nproc_;
      w.node_rank = round_.node_rank;
      w.num_nodes = round_.num_nodes();
      w.rank = round_.node_rank * nproc_ + local;
      w.world_size = round_.num_nodes() * nproc_;
      w.store = options_.store;
      w.torch_master = torch_master_;
      w.job_id = options_.job.metadata().name();
      w.run_id = std::to_string(round_.id);
      w.restart_count = round_.restart_count;
      w.launch_id = round_.launch_id.empty() ? options_.launch_id : round_.launch_id;
      w.token_file = options_.token_file;
      w.etcd = options_.etcd;
      w.collective_backend = spec_.collectives().backend();
      if (!spec_.collectives().timeout().empty()) {
        w.collective_timeout_ms =
            static_cast<int>(spec::ValidatedMillis(spec_.collectives().timeout()).count());
      }
      if (!spec_.checkpoint().dir().empty()) {
        w.checkpoint_dir =
            (std::filesystem::path(options_.working_dir) / spec_.checkpoint().dir()).string();
        w.checkpoint_every_steps = spec_.checkpoint().every_steps();
        w.checkpoint_keep = spec_.checkpoint().keep();
        if (spec_.checkpoint().has_async()) w.checkpoint_async = spec_.checkpoint().async();
      }
      if (spec_.checkpoint().has_memory() && !node_.memory_dir.empty()) {
        w.checkpoint_memory_every_steps = spec_.checkpoint().memory().every_steps();
        w.checkpoint_memory_replicas = spec_.checkpoint().memory().replicas();
        w.checkpoint_memory_dir = node_.memory_dir;
      }
      w.checkpoint_resume = spec_.checkpoint().resume();
      if (!spec_.checkpoint().resume_from().empty()) {
        w.checkpoint_resume_from =
            (std::filesystem::path(options_.working_dir) / spec_.checkpoint().resume_from())
                .lexically_normal()
                .string();
      }
      WorkerSpec s;
      s.rank = w.rank;
      s.argv.assign(spec_.command().begin(), spec_.command().end());
      s.env = inherited;
      s.env.erase("MASTER_ADDR");  // a shell's own must not reach torch when the round has none
      s.env.erase("MASTER_PORT");
      for (const auto& var : spec_.env()) s.env[var.name()] = var.value();
      for (const auto& [name, value] : w.ToVariables()) s.env[name] = value;
      s.working_dir = options_.working_dir;
      s.prefix = "[rank " + std::to_string(w.rank) + "] ";
      s.log_path = LogPath(w.rank);
      if (node_.metrics)
        s.env[train::internal::kMetricsSocketVariable] = node_.metrics->socket_path();
      AddTorchrunVariables({w.world_size, nproc_, spec_.failure_policy().max_restarts()}, &s,
                           terminal_);
      specs.push_back(std::move(s));
    }
    return specs;
  }

  void OnExit(const WorkerExit& exit) {
    running_.erase(exit.rank);
    if (exit.success()) {
      if (++local_done_ == nproc_) (void)round_store_->Set(NodeKey(round_.node_rank, "done"), "1");
      return;
    }
    FailureReport report = ReportExit(exit, round_.node_rank, host_, LogPath(exit.rank),
                                      group_->LastLines(exit.rank, kSummaryLines));
    // Exit 75 (or SIGTERM, a program that does not check for preemption) with the step its
    // trainer recorded: preempted, not failed.
    if ((exit.signal == 0 && exit.exit_code == kExitPreempted) || exit.signal == SIGTERM) {
      if (auto step = PreemptedStep(round_store_.get(), exit.rank)) {
        report.exit_code = kExitPreempted;
        report.reason = "stopped for preemption and " + DescribeSavedStep(*step);
        const std::string reason = "rank " + std::to_string(exit.rank) + " " + report.reason;
        MarkRoundPreempted(round_store_.get(), reason);
        Blame(report, reason);
        return;
      }
    }
    Blame(report, "rank " + std::to_string(exit.rank) + " " + exit.Describe());
  }

  // This node is being preempted (its agent got SIGTERM or Ctrl-C): the other nodes end the
  // round too, without spending a restart, and every worker gets SIGTERM and up to the grace
  // to save its step (train::Trainer saves at its next step's end) before SIGKILL.
  void StopForPreemption() {
    const std::string node = "node " + std::to_string(round_.node_rank);
    FailureReport report;
    report.node_rank = round_.node_rank;
    report.host = host_;
    report.exit_code = kExitPreempted;
    report.when = WallClockNow();
    report.reason = node + " (" + host_ + ") was preempted: its agent was told to stop";
    MarkRoundPreempted(round_store_.get(), report.reason);
    Blame(report, report.reason);
    Say(node + ": stopping; its workers have SIGTERM and up to preemptionGrace (" +
        spec::FormatDuration(preemption_grace_) + ") to save their step");
    const auto started = Clock::now();
    const std::vector<WorkerExit> exits = group_->Stop(preemption_grace_);
    const auto took = std::chrono::duration_cast<Milliseconds>(Clock::now() - started);
    for (const std::string& line : DescribeNodeStop(round_store_.get(), round_.node_rank, nproc_,
                                                    exits, preemption_grace_, took)) {
      Say(line);
    }
  }

  // Records the first failure of the round and tells every node to end it.
  void Blame(FailureReport report, const std::string& reason) {
    report.reporter = round_.node_rank;
    (void)round_store_->CompareSet(kFailureKey, std::nullopt, report.ToJson());
    (void)round_store_->CompareSet(kRestartKey, std::nullopt, reason);
  }

  // Looks at whether every node is done (the first few nodes, once done themselves), at the
  // heartbeats of the next nodes in the ring, and at this node's workers' heartbeats: a few
  // keys per node, however many nodes there are.
  std::optional<RoundEnd> Scan(bool check_liveness) {
    if (local_done_ == nproc_ && round_.node_rank <= kWatchedPeers && AllNodesDone()) {
      RecordOutcome(job_store_.get(), JobOutcome::Succeeded());
      // Wakes the other nodes' watches: they find the outcome and end too.
      (void)round_store_->CompareSet(kRestartKey, std::nullopt, "the job succeeded");
      group_->Stop(options_.stop_grace);
      if (round_.node_rank == 0) Say("job " + options_.job.metadata().name() + " succeeded");
      return RoundEnd{RoundEnd::kSucceeded, 0};
    }
    const std::vector<int> peers = WatchedPeers(round_.node_rank, round_.num_nodes());
    auto seen = round_store_->MultiGet(LivenessKeys(round_.node_rank, round_.num_nodes(), nproc_));
    if (!seen.ok()) return std::nullopt;  // fencing handles a lost store
    // Workers are judged from their first heartbeat on, so no grace applies to them.
    if (CheckWorkerHeartbeats(*seen, 2 * peers.size()) || !check_liveness) return std::nullopt;
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if ((*seen)[2 * i] || (*seen)[2 * i + 1]) continue;  // beating, or finished
      const int node = peers[i];
      FailureReport report;
      report.node_rank = node;
      report.host = HostOf(node);
      report.exit_code = kExitAgentError;
      report.when = WallClockNow();
      report.reason = "node " + std::to_string(node) + " (" + report.host +
                      ") was lost: no heartbeat for " + std::to_string(heartbeat_timeout_.count()) +
                      " ms";
      Blame(report, report.reason);
      return std::nullopt;
    }
    return std::nullopt;
  }

  // Whether every node of the round has marked itself done.
  bool AllNodesDone() {
    std::vector<std::string> keys;
    for (int node = 0; node < round_.num_nodes(); ++node) keys.push_back(NodeKey(node, "done"));
    auto done = round_store_->MultiGet(keys);
    return done.ok() &&
           std::all_of(done->begin(), done->end(),
                       [](const std::optional<std::string>& d) { return d.has_value(); });
  }

  // A worker that heartbeated (it uses train::Worker) and stopped doing so while its process
  // still runs is hung (stopped, deadlocked, stuck in a collective). Returns whether one was.
  // `seen` holds this node's workers' heartbeats from index `first` on.
  bool CheckWorkerHeartbeats(const std::vector<std::optional<std::string>>& seen,
                             std::size_t first) {
    const auto pids = group_->pids();
    for (int local = 0; local < nproc_; ++local) {
      const int rank = round_.node_rank * nproc_ + local;
      if (seen[first + static_cast<std::size_t>(local)]) {
        heartbeating_.insert(rank);
      } else if (heartbeating_.count(rank) != 0 && running_.count(rank) != 0) {
        FailureReport report;
        report.rank = rank;
        report.node_rank = round_.node_rank;
        report.host = host_;
        report.pid = pids[static_cast<std::size_t>(local)];
        report.exit_code = kExitAgentError;
        report.when = WallClockNow();
        report.reason = "missed its heartbeats for " + std::to_string(heartbeat_timeout_.count()) +
                        " ms while running (hung?)";
        report.log_path = LogPath(rank);
        report.last_lines = group_->LastLines(rank, kSummaryLines);
        Blame(report, "rank " + std::to_string(rank) + " " + report.reason);
        return true;
      }
    }
    return false;
  }

  // The host of node `node`, from its member record ("?" when the store lost it).
  std::string HostOf(int node) {
    auto slot = SlotOfNode(job_store_.get(), round_.id, node);
    if (!slot.ok()) return "?";
    auto text = round_store_->TryGet("member/" + std::to_string(*slot));
    if (!text.ok() || !*text) return "?";
    auto info = ParseNodeInfo(**text);
    return info.ok() ? info->host : "?";
  }

  RoundEnd Fail(const FailureReport& report, const std::string& reason) {
    Blame(report, reason);
    RecordOutcome(job_store_.get(), JobOutcome::Failed(report.exit_code, reason));
    for (const std::string& line :
         report.Summary(options_.job.metadata().name(), round_.restart_count)) {
      terminal_->WriteLine(line);
    }
    return {RoundEnd::kFailed, report.exit_code};
  }

  // The round is over early: decide between another round and the end of the job.
  RoundEnd EndRound(const std::string& reason, const std::atomic<bool>& force) {
    FailureReport report;
    report.exit_code = kExitAgentError;
    report.when = WallClockNow();
    report.reason = reason;
    auto recorded = round_store_->TryGet(kFailureKey);
    bool have_worker = false;
    if (recorded.ok() && *recorded) {
      if (auto parsed = FailureReport::FromJson(**recorded); parsed.ok()) {
        report = *parsed;
        have_worker = report.rank >= 0;
      }
    }
    // Preempted workers are saving their step: they get the preemption grace to finish.
    const bool preempted = RoundPreempted(round_store_.get(), report);
    if (group_ != nullptr) {
      group_->Stop(force ? Milliseconds(0) : preempted ? preemption_grace_ : options_.stop_grace);
    }
    if (const std::optional<int> outcome = RecordedExitCode(job_store_.get())) {
      const int code = *outcome;
      if (code == 0 && round_.node_rank == 0) {
        Say("job " + options_.job.metadata().name() + " succeeded");
      }
      return {code == 0 ? RoundEnd::kSucceeded : RoundEnd::kFailed, code};
    }
    const auto& policy = spec_.failure_policy();
    if (preempted) {
      const int spent = RestartsSpent();
      preempted_restarts_->CountRound(round_store_.get(), job_store_.get());
      // A preempted node is on its way out: the lowest other node speaks for it.
      const bool speaker = report.rank >= 0 ? report.reporter == round_.node_rank
                                            : round_.node_rank == (report.reporter == 0 ? 1 : 0);
      if (speaker) {
        Say("round " + std::to_string(round_.id) + " ended: " + reason +
            "; restarting (preemption: not counted against maxRestarts, " + std::to_string(spent) +
            " of " + std::to_string(policy.max_restarts()) + " used)");
      }
      return {RoundEnd::kRestart, 0};
    }
    const int spent = RestartsSpent();
    const auto& fail_on = policy.fail_on_exit_codes();
    const auto& restart_on = policy.restart_on_exit_codes();
    std::string fatal;
    if (have_worker &&
        std::find(fail_on.begin(), fail_on.end(), report.exit_code) != fail_on.end()) {
      fatal = "exit code " + std::to_string(report.exit_code) + " is in failOnExitCodes";
    } else if (have_worker && !restart_on.empty() &&
               std::find(restart_on.begin(), restart_on.end(), report.exit_code) ==
                   restart_on.end()) {
      fatal = "exit code " + std::to_string(report.exit_code) + " is not in restartOnExitCodes";
    } else if (spent >= policy.max_restarts()) {
      fatal = "no restarts left (maxRestarts " + std::to_string(policy.max_restarts()) + ")";
    }
    // Only the node that saw the failure speaks for the job (node 0 when none was recorded).
    const bool speaker =
        report.reporter >= 0 ? report.reporter == round_.node_rank : round_.node_rank == 0;
    if (!fatal.empty()) {
      // 75 says "preempted, run again" to scripts and to Kubernetes (which then does not count
      // the pod): a job that failed must not exit with it.
      const int code = report.exit_code == kExitPreempted ? kExitAgentError : report.exit_code;
      RecordOutcome(job_store_.get(), JobOutcome::Failed(code, fatal));
      if (speaker) {
        for (const std::string& line :
             report.Summary(options_.job.metadata().name(), round_.restart_count)) {
          terminal_->WriteLine(line);
        }
        Say(fatal + "; giving up");
      }
      return {RoundEnd::kFailed, code};
    }
    if (speaker) {
      Say("round " + std::to_string(round_.id) + " ended: " + reason + "; restarting (" +
          std::to_string(spent + 1) + " of " + std::to_string(policy.max_restarts()) + ")");
    }
    return {RoundEnd::kRestart, 0};
  }

  // Restarts so far that spent the budget (preemptions do not).
  int RestartsSpent() { return round_.restart_count - preempted_restarts_->Get(job_store_.get()); }

  static constexpr std::size_t kSummaryLines = 10;

  // Disarmed first thing on destruction, before the group it points at is gone.
  struct Disarm {
    KillSwitch* kill_switch;
    ~Disarm() { kill_switch->Disarm(); }
  };
  KillSwitch* kill_switch_;
  PreemptedRestarts* preempted_restarts_;
  const AgentOptions& options_;
  const NodeResources& node_;
  const trainctl::v1alpha1::TrainingJobSpec& spec_;
  Terminal* terminal_;
  const std::string& host_;
  const Round& round_;
  std::unique_ptr<train::Store> job_store_;
  std::unique_ptr<train::Store> round_store_;
  Milliseconds heartbeat_, heartbeat_timeout_;
  Milliseconds preemption_grace_;
  int nproc_;
  std::optional<train::StoreAddress> torch_master_;  // MASTER_ADDR:MASTER_PORT of this round
  PortReservation master_port_;  // node 0: MASTER_PORT held for rank 0 until the round ends
  std::unique_ptr<WorkerGroup> group_;
  Disarm disarm_{kill_switch_};  // declared after group_: destroyed before it
  int local_done_ = 0;
  std::set<int> running_;       // ranks whose exit was not seen yet
  std::set<int> heartbeating_;  // ranks seen heartbeating at least once
  Clock::time_point next_progress_{};
  std::int64_t published_step_ = -1;
};

}  // namespace

RoundEnd RoundRunner::Run(const Round& round, const std::atomic<bool>& stop,
                          const std::atomic<bool>& force) {
  RoundMonitor monitor(options_, node_, terminal_, client_, host_, round, kill_switch_,
                       &preempted_restarts_);
  return monitor.Run(stop, force);
}

}  // namespace trainctl::agent
