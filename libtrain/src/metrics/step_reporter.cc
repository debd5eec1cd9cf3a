#include "metrics/step_reporter.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

namespace train::internal {
namespace {

// One datagram per report; far above any real report, far below the socket's buffer.
constexpr std::size_t kMaxDatagram = 60 * 1024;

// JSON has no NaN or infinity: a diverged loss travels as null (the agent reads NaN back).
nlohmann::json Number(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What every datagram carries: the wire version, the time, who sent it, and the step.
Result<nlohmann::json> Envelope(const ReporterIdentity& who, double unix_seconds, std::int64_t step,
                                const char* step_name) {
  if (step < 0) {
    return InvalidArgumentError(std::string(step_name) + " is " + std::to_string(step) +
                                ": it counts completed optimizer steps, so it must be >= 0");
  }
  return nlohmann::json{{"v", 1},
                        {"t", unix_seconds},
                        {"rank", who.rank},
                        {"pid", static_cast<std::int64_t>(who.pid)},
                        {"run", who.run_id},
                        {"restart", who.restart_count},
                        {"step", step}};
}

}  // namespace

Result<std::string> EncodeStepReport(const StepReport& report, const ReporterIdentity& who,
                                     const LibraryCounters& counters, double unix_seconds) {
  TRAIN_ASSIGN_OR_RETURN(nlohmann::json j,
                         Envelope(who, unix_seconds, report.step, "StepReport.step"));
  if (report.epoch < 0) {
    return InvalidArgumentError("StepReport.epoch is " + std::to_string(report.epoch) +
                                ": it must be >= 0");
  }
  if (report.samples < 0) {
    return InvalidArgumentError("StepReport.samples is " + std::to_string(report.samples) +
                                ": it counts samples processed since the previous report, so it "
                                "must be >= 0");
  }
  nlohmann::json values = nlohmann::json::object();
  for (std::size_t i = 0; i < report.values.size(); ++i) {
    const auto& [name, value] = report.values[i];
    if (name.empty()) {
      return InvalidArgumentError("StepReport.values[" + std::to_string(i) +
                                  "] has an empty name: give it one such as \"test_accuracy\"");
    }
    values[name] = Number(value);
  }
  j.update({
      {"epoch", report.epoch},
      {"loss", Number(report.loss)},
      {"samples", report.samples},
      {"values", std::move(values)},
      {"allreduce_ops", counters.allreduce_ops},
      {"allreduce_bytes", counters.allreduce_bytes},
      {"allreduce_seconds", counters.allreduce_seconds},
      {"checkpoint_saves", counters.checkpoint_saves},
      {"checkpoint_save_seconds", counters.checkpoint_save_seconds},
      {"checkpoint_stall_seconds", counters.checkpoint_stall_seconds},
      {"last_checkpoint_save_seconds", counters.last_checkpoint_save_seconds},
  });
  // Invalid UTF-8 in a value name is replaced rather than failing the training step.
  std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxDatagram) {
    return InvalidArgumentError("StepReport is " + std::to_string(text.size()) +
                                " bytes encoded, more than the " + std::to_string(kMaxDatagram) +
                                " a report may take: send fewer values (" +
                                std::to_string(report.values.size()) + " now)");
  }
  return text;
}

Result<std::string> EncodeProgressReport(std::int64_t step, const ReporterIdentity& who,
                                         double unix_seconds) {
  TRAIN_ASSIGN_OR_RETURN(nlohmann::json j, Envelope(who, unix_seconds, step, "the step"));
  j["progress_only"] = true;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

StepReporter::StepReporter(std::string socket_path, ReporterIdentity who)
    : path_(std::move(socket_path)), who_(std::move(who)) {}

StepReporter::~StepReporter() {
  if (fd_ >= 0) ::close(fd_);
}

bool StepReporter::ConnectLocked() {
  if (fd_ >= 0) return true;
  sockaddr_un address{};
  if (path_.size() >= sizeof(address.sun_path)) return false;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path_.data(), path_.size());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return false;
  }
  fd_ = fd;
  return true;
}

Status StepReporter::Send(const StepReport& report) {
  // Checked even without an agent, so a bad report fails the same way everywhere.
  TRAIN_ASSIGN_OR_RETURN(std::string text,
                         EncodeStepReport(report, who_, SnapshotCounters(), UnixSeconds()));
  return SendText(text);
}

Status StepReporter::SendProgress(std::int64_t step) {
  // Called after every training step: without an agent, nothing to encode (a bad step still
  // fails below, as with one).
  if (path_.empty() && step >= 0) return Status::Ok();
  TRAIN_ASSIGN_OR_RETURN(std::string text, EncodeProgressReport(step, who_, UnixSeconds()));
  return SendText(text);
}

Status StepReporter::SendText(const std::string& text) {
  if (path_.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(mutex_);
  // An agent that is not listening (yet, or any more) is retried on a later report only every
  // so often, so a worker without its agent pays almost nothing per step.
  if (fd_ < 0 && failed_connects_ > 0 && failed_connects_++ % 64 != 0) {
    ++dropped_;
    return Status::Ok();
  }
  if (!ConnectLocked()) {
    ++failed_connects_;
    ++dropped_;
    return Status::Ok();
  }
  failed_connects_ = 0;
  if (::send(fd_, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
      static_cast<ssize_t>(text.size())) {
    ++sent_;
    return Status::Ok();
  }
  ++dropped_;
  // EAGAIN: the agent is busy, keep the socket. Anything else (the agent restarted and its
  // socket is a new one): reconnect next time.
  if (errno != EAGAIN && errno != EWOULDBLOCK) {
    ::close(fd_);
    fd_ = -1;
  }
  return Status::Ok();
}

std::int64_t StepReporter::sent() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sent_;
}

std::int64_t StepReporter::dropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

}  // namespace train::internal
