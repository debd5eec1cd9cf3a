#include "metrics_collector.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "train/internal/job_keys.h"
#include "train/worker.h"

namespace trainctl::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxDatagram = 64 * 1024;

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// JSON has no NaN: a non-finite number is written as null.
json Number(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

std::string SocketPath(const std::string& run_dir) {
  std::string path =
      (fs::path(run_dir) / ("metrics-" + std::to_string(getpid()) + ".sock")).string();
  if (path.size() < sizeof(sockaddr_un{}.sun_path)) return path;
  // A run directory too deep for a socket path: the socket lives in /tmp instead.
  std::random_device random;
  return (fs::temp_directory_path() / ("trainctl-metrics-" + std::to_string(getpid()) + "-" +
                                       std::to_string(random()) + ".sock"))
      .string();
}

void DefaultSignalWorker(pid_t pid, int signal) {
  // Each worker leads its own process group (WorkerGroup): its children get the signal too.
  if (::killpg(pid, signal) != 0) ::kill(pid, signal);
}

}  // namespace

std::string MetricsConfig::ToJson() const {
  json rules = json::array();
  for (const ChaosRule& rule : chaos) rules.push_back(rule.ToString());
  return json{{"chaos", rules}, {"port", port}}.dump();
}

train::Result<MetricsConfig> MetricsConfig::FromJson(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return train::InvalidArgumentError("the job's metrics config in the store is not JSON: " +
                                       text);
  }
  MetricsConfig config;
  config.port = j.value("port", 0);
  for (const json& rule : j.value("chaos", json::array())) {
    if (!rule.is_string()) return train::InvalidArgumentError("a chaos rule that is no string");
    TRAIN_ASSIGN_OR_RETURN(ChaosRule parsed, ParseChaosRule(rule.get<std::string>()));
    config.chaos.push_back(parsed);
  }
  return config;
}

MetricsCollector::MetricsCollector(MetricsOptions options, Terminal* terminal)
    : options_(std::move(options)), terminal_(terminal), registry_(options_.job) {
  if (!options_.signal_worker) options_.signal_worker = DefaultSignalWorker;
  if (!options_.kill_agent) options_.kill_agent = [] { ::raise(SIGKILL); };
}

train::Result<std::unique_ptr<MetricsCollector>> MetricsCollector::Start(MetricsOptions options,
                                                                         Terminal* terminal) {
  std::unique_ptr<MetricsCollector> c(new MetricsCollector(std::move(options), terminal));
  const MetricsOptions& o = c->options_;
  c->jsonl_path_ = (fs::path(o.run_dir) / "metrics.jsonl").string();
  c->jsonl_fd_ = ::open(c->jsonl_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (c->jsonl_fd_ < 0) {
    return train::UnavailableError("cannot write " + c->jsonl_path_ + ": " + std::strerror(errno) +
                                   " (is the run directory writable?)");
  }
  c->socket_path_ = SocketPath(o.run_dir);
  ::unlink(c->socket_path_.c_str());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, c->socket_path_.data(), c->socket_path_.size());
  c->socket_fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (c->socket_fd_ < 0 ||
      ::bind(c->socket_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return train::UnavailableError("cannot create the metrics socket " + c->socket_path_ + ": " +
                                   std::strerror(errno));
  }
  // Room for bursts of reports while the agent is busy (the kernel caps it at rmem_max).
  int buffer = 4 << 20;
  setsockopt(c->socket_fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  if (::pipe2(c->wake_, O_CLOEXEC) != 0) {
    return train::InternalError(std::string("metrics: pipe: ") + std::strerror(errno));
  }
  MetricsCollector* raw = c.get();
  TRAIN_ASSIGN_OR_RETURN(c->http_, MetricsHttpServer::Start(o.http_host, o.http_port, [raw] {
                           return raw->registry_.Prometheus();
                         }));
  const std::string port_file =
      (fs::path(o.run_dir) /
       (o.node_hint > 0 ? "metrics-node-" + std::to_string(o.node_hint) + ".port" : "metrics.port"))
          .string();
  std::ofstream(port_file) << c->http_->port() << "\n";
  c->thread_ = std::thread([raw] { raw->Receive(); });
  json start = {{"type", "agent_start"},
                {"t", UnixNow()},
                {"node", o.node_hint},
                {"pid", getpid()},
                {"job", o.job},
                {"unit", o.unit},
                {"units_per_node", o.units_per_node},
                {"max_nodes", o.max_nodes},
                {"metrics_port", c->http_->port()}};
  c->Append(start.dump());
  std::string where = (o.node_hint > 0 ? "node " + std::to_string(o.node_hint) + " " : "");
  c->Say(where + "metrics at http://" + o.http_host + ":" + std::to_string(c->http_->port()) +
         "/metrics");
  return c;
}

MetricsCollector::~MetricsCollector() {
  if (thread_.joinable()) {
    char byte = 1;
    (void)!::write(wake_[1], &byte, 1);
    thread_.join();
  }
  http_.reset();
  for (int fd : {socket_fd_, jsonl_fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) ::close(fd);
  }
  if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
}

int MetricsCollector::http_port() const { return http_ ? http_->port() : 0; }

void MetricsCollector::Say(const std::string& line) {
  if (terminal_ != nullptr) terminal_->WriteLine("trainctl: " + line);
}

void MetricsCollector::Append(const std::string& line) {
  const std::string text = line + "\n";
  // One write per line: O_APPEND keeps lines whole among the agents sharing the file.
  (void)!::write(jsonl_fd_, text.data(), text.size());
}

void MetricsCollector::Receive() {
  std::string buffer(kMaxDatagram, '\0');
  while (true) {
    pollfd fds[2] = {{socket_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      ssize_t n = ::recv(socket_fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n > 0) Handle(buffer.substr(0, static_cast<std::size_t>(n)));
      std::lock_guard<std::mutex> lock(mutex_);
      ++handled_;
      continue;  // drain the queue before looking at the stop pipe
    }
    if (fds[1].revents != 0) return;
  }
}

void MetricsCollector::Drain() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::int64_t before = -1;
  while (std::chrono::steady_clock::now() < until) {
    int queued = 0;
    ::ioctl(socket_fd_, FIONREAD, &queued);
    std::int64_t handled;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      handled = handled_;
    }
    // Empty queue, and the receiver did nothing over one more pause: all handled.
    if (queued == 0 && handled == before) return;
    before = handled;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void MetricsCollector::Handle(const std::string& datagram) {
  auto report = DecodeWorkerReport(datagram);
  if (!report.ok()) {
    registry_.CountMalformed();
    return;
  }
  NoteStep(*report);
  if (report->progress_only) {
    ApplyChaos(*report);
    return;
  }
  const double rate = registry_.Add(*report);
  json values = json::object();
  for (const auto& [name, value] : report->values) values[name] = Number(value);
  json line = {{"type", "step"},
               {"t", report->t},
               {"rank", report->rank},
               {"pid", report->pid},
               {"round", report->run},
               {"restart", report->restart},
               {"step", report->step},
               {"epoch", report->epoch},
               {"loss", Number(report->loss)},
               {"samples", report->samples},
               {"samples_per_s", rate},
               {"values", values},
               {"allreduce_bytes", report->library.allreduce_bytes},
               {"allreduce_seconds", report->library.allreduce_seconds},
               {"checkpoint_saves", report->library.checkpoint_saves},
               {"checkpoint_save_seconds", report->library.checkpoint_save_seconds}};
  Append(line.dump(-1, ' ', false, json::error_handler_t::replace));
  ApplyChaos(*report);
}

void MetricsCollector::NoteStep(const WorkerReport& report) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Only a worker of this node's current round counts (never a stale one's late datagram).
  auto it = pids_.find(report.rank);
  if (it == pids_.end() || it->second != report.pid) return;
  std::int64_t& latest = latest_step_[report.rank];
  latest = std::max(latest, report.step);
}

std::optional<std::int64_t> MetricsCollector::LatestStep(int rank) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = latest_step_.find(rank);
  if (it == latest_step_.end()) return std::nullopt;
  return it->second;
}

bool MetricsCollector::Claim(std::size_t index, const std::string& what) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!fired_.insert(index).second) return false;
  }
  if (options_.job_store == nullptr) return true;
  // The first agent to set the key acts; a rule that fired in an earlier round (this node or
  // another) is found set.
  // CompareSet returns the value after the call: ours only when this agent set it.
  const std::string mine = what + " agent " + std::to_string(getpid());
  auto after =
      options_.job_store->CompareSet("chaos/fired/" + std::to_string(index), std::nullopt, mine);
  return after.ok() && after->has_value() && **after == mine;
}

void MetricsCollector::ApplyChaos(const WorkerReport& report) {
  for (std::size_t i = 0; i < options_.chaos.size(); ++i) {
    const ChaosRule& rule = options_.chaos[i];
    if (rule.rank != report.rank || report.step < rule.step) continue;
    pid_t pid = 0;
    std::int64_t round;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (fired_.count(i) != 0) continue;
      auto it = pids_.find(report.rank);
      // Only a worker of this node's current round is ever signalled (never a stale pid).
      if (it == pids_.end() || it->second != report.pid) continue;
      pid = it->second;
      round = round_;
    }
    if (!Claim(i, rule.ToString() + " pid " + std::to_string(pid))) continue;
    registry_.CountChaosAction();
    json event = {
        {"type", "chaos"},   {"t", UnixNow()},      {"action", ChaosActionName(rule.action)},
        {"rank", rule.rank}, {"step", report.step}, {"rule", rule.ToString()},
        {"pid", pid},        {"round", round},      {"agent_pid", getpid()}};
    Append(event.dump());
    switch (rule.action) {
      case ChaosAction::kKill:
        Say("chaos: SIGKILL rank " + std::to_string(rule.rank) + " (pid " + std::to_string(pid) +
            ") at step " + std::to_string(report.step));
        options_.signal_worker(pid, SIGKILL);
        break;
      case ChaosAction::kStop:
        Say("chaos: SIGSTOP rank " + std::to_string(rule.rank) + " (pid " + std::to_string(pid) +
            ") at step " + std::to_string(report.step) + ": a hang for the timeouts to catch");
        options_.signal_worker(pid, SIGSTOP);
        break;
      case ChaosAction::kKillAgent:
        Say("chaos: SIGKILL the agent of rank " + std::to_string(rule.rank) + " (pid " +
            std::to_string(getpid()) + ") at step " + std::to_string(report.step));
        options_.kill_agent();
        break;
    }
  }
}

void MetricsCollector::RendezvousStarted() {
  std::lock_guard<std::mutex> lock(mutex_);
  Append(json{{"type", "rendezvous_start"}, {"t", UnixNow()}, {"node", node_rank_}}.dump());
}

void MetricsCollector::RoundStarted(std::int64_t round, int node_rank, int nodes, int workers,
                                    int restart_count, const std::map<int, pid_t>& pids) {
  registry_.SetRound(round, restart_count, workers);
  std::lock_guard<std::mutex> lock(mutex_);
  pids_ = pids;
  latest_step_.clear();
  round_ = round;
  node_rank_ = node_rank;
  Append(json{{"type", "round_start"},
              {"t", UnixNow()},
              {"round", round},
              {"node", node_rank},
              {"nodes", nodes},
              {"workers", workers},
              {"restart", restart_count}}
             .dump());
}

void MetricsCollector::RoundEnded(std::int64_t round, const std::string& outcome) {
  Drain();  // the reports that led here come first in the file
  std::string reason;
  if (options_.job_store != nullptr && outcome != "succeeded") {
    const std::string job_prefix = train::internal::JobKeyPrefix(options_.job);
    const std::string key = train::internal::RoundKeyPrefix(options_.job, std::to_string(round))
                                .substr(job_prefix.size()) +
                            "restart";
    auto text = options_.job_store->TryGet(key);
    if (text.ok() && *text) reason = **text;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  pids_.clear();
  Append(json{{"type", "round_end"},
              {"t", UnixNow()},
              {"round", round},
              {"node", node_rank_},
              {"outcome", outcome},
              {"reason", reason}}
             .dump(-1, ' ', false, json::error_handler_t::replace));
}

void MetricsCollector::JobEnded(int exit_code) {
  Drain();
  std::lock_guard<std::mutex> lock(mutex_);
  Append(json{{"type", "job_end"}, {"t", UnixNow()}, {"node", node_rank_}, {"exit_code", exit_code}}
             .dump());
}

}  // namespace trainctl::agent
