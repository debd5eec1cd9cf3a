#include "cpu/tcp_engine.h"

#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

namespace train::internal {
namespace {

using Clock = std::chrono::steady_clock;

// Syscalls per direction per peer before the engine looks at the other peers again.
constexpr int kCallsPerPump = 4;
// How long before its deadline a stuck member asks the others which op they are in (at most
// a quarter of the op's timeout).
constexpr std::chrono::milliseconds kQueryLead{250};

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }
bool PeerGone(int err) { return err == ECONNRESET || err == EPIPE || err == ECONNABORTED; }

Deadline QueryTime(const OpContext& ctx) {
  if (ctx.deadline == Deadline::max()) return Deadline::max();
  auto lead = std::chrono::duration_cast<std::chrono::milliseconds>(kQueryLead);
  if (ctx.started != Deadline() && ctx.deadline > ctx.started) {
    lead = std::min(lead, std::chrono::duration_cast<std::chrono::milliseconds>(
                              (ctx.deadline - ctx.started) / 4));
  }
  return ctx.deadline - lead;
}

int MillisUntil(Deadline when, Clock::time_point now) {
  if (when <= now) return 0;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
  // +1: poll rounds down, and waking a hair early only costs another turn.
  return static_cast<int>(std::min(left, std::chrono::milliseconds(kTcpPollTick)).count()) + 1;
}

}  // namespace

TcpEngine::TcpEngine(int member, std::vector<TcpLink> links)
    : member_(member), links_(std::move(links)), peers_(links_.size()) {}

TcpEngine::~TcpEngine() {
  // A peer that notices this member's connections close reads this first.
  if (!broken_.ok()) {
    for (int m = 0; m < size(); ++m) {
      if (m != member_) Notify(m, broken_notice_);
    }
  }
  ControlMessage bye;
  bye.kind = ControlMessage::Kind::kBye;
  for (int m = 0; m < size(); ++m) {
    if (m != member_) Notify(m, bye);
  }
}

Status TcpEngine::BeginOp() {
  if (!broken_.ok()) return broken_;
  ++op_index_;
  queried_ = false;
  return Status::Ok();
}

std::string TcpEngine::ClosedDetail(int member) const {
  return "closed its connection (" + links_[static_cast<std::size_t>(member)].address + "): " +
         (peers_[static_cast<std::size_t>(member)].left ? "it shut its communicator down"
                                                        : "it exited or was killed");
}

void TcpEngine::Notify(int member, const ControlMessage& message) {
  PeerState& peer = peers_[static_cast<std::size_t>(member)];
  if (!peer.control_open) return;
  const std::string line = EncodeControl(message);
  // Best effort: notices are short and the control connection carries little else, so the
  // send buffer has room; a peer that is gone needs no notice.
  (void)::send(links_[static_cast<std::size_t>(member)].control.get(), line.data(), line.size(),
               MSG_NOSIGNAL | MSG_DONTWAIT);
}

Status TcpEngine::Fail(Status status, const ControlMessage& notice) {
  for (int m = 0; m < size(); ++m) {
    if (m != member_) Notify(m, notice);
  }
  return Adopt(std::move(status), notice);
}

void TcpEngine::PeerLostElsewhere(int rank, const std::string& detail, OpContext& ctx) {
  if (!broken_.ok()) return;
  ControlMessage notice;
  notice.kind = ControlMessage::Kind::kStopLost;
  notice.ranks = {rank};
  notice.detail = detail;
  (void)Fail(ctx.PeerLost(rank, detail), notice);
}

void TcpEngine::AbortIdle() {
  if (!broken_.ok()) return;
  ControlMessage notice;
  notice.kind = ControlMessage::Kind::kStopAborted;
  notice.ranks = {comm_rank(member_)};
  (void)Fail(AbortedError("the communicator was aborted"), notice);
}

Status TcpEngine::Adopt(Status status, const ControlMessage& notice) {
  if (broken_.ok()) {
    broken_ = status;
    broken_notice_ = notice;
  }
  return status;
}

Status TcpEngine::ReadControl(int member, OpContext& ctx) {
  PeerState& peer = peers_[static_cast<std::size_t>(member)];
  if (!peer.control_open) return Status::Ok();
  int err = 0;
  const auto outcome =
      peer.control.ReadAvailable(links_[static_cast<std::size_t>(member)].control.get(), &err);
  // Lines already read still count when the connection closed after them.
  while (auto line = peer.control.NextLine()) {
    const auto message = DecodeControl(*line);
    if (!message) continue;
    using Kind = ControlMessage::Kind;
    switch (message->kind) {
      case Kind::kQuery: {
        ControlMessage here;
        here.kind = Kind::kHere;
        here.op = op_index_;
        Notify(member, here);
        break;
      }
      case Kind::kBye:
        peer.left = true;
        break;
      case Kind::kHere:
        peer.answered = true;
        peer.answered_op = std::max(peer.answered_op, message->op);
        break;
      case Kind::kStopTimeout:
        return Adopt(ctx.StopStatus(message->ranks), *message);
      case Kind::kStopLost:
        return Adopt(ctx.PeerLost(message->ranks[0], message->detail), *message);
      case Kind::kStopAborted:
        return Adopt(ctx.PeerLost(message->ranks[0], "aborted its communicator"), *message);
    }
  }
  // A closed control connection is not an error by itself: the peer may have finished its
  // last op and exited while this member still reads what it sent. Whoever waits on its data
  // sees the data connection close too.
  if (outcome != ControlReader::Outcome::kOpen) peer.control_open = false;
  return Status::Ok();
}

Status TcpEngine::ConnectionLost(int member, int err, OpContext& ctx) {
  // The peer may have stopped for a reason it, or the member that saw the failure first, told
  // everyone about; that reason is better.
  TRAIN_RETURN_IF_ERROR(ReadControl(member, ctx));
  for (int m = 0; m < size(); ++m) {
    if (m != member_ && m != member) TRAIN_RETURN_IF_ERROR(ReadControl(m, ctx));
  }
  const std::string& address = links_[static_cast<std::size_t>(member)].address;
  ControlMessage notice;
  notice.kind = ControlMessage::Kind::kStopLost;
  notice.ranks = {comm_rank(member)};
  notice.detail = err == 0 || PeerGone(err)
                      ? ClosedDetail(member)
                      : ErrnoMessage("connection (" + address + ") failed", err);
  return Fail(ctx.PeerLost(notice.ranks[0], notice.detail), notice);
}

Status TcpEngine::Pump(TcpTransfer& transfer, int member, OpContext& ctx, bool* moved) {
  PeerState& peer = peers_[static_cast<std::size_t>(member)];
  const int fd = links_[static_cast<std::size_t>(member)].data.get();
  for (int call = 0; call < kCallsPerPump && !peer.send_blocked; ++call) {
    const std::span<const std::byte> window = transfer.SendWindow(member);
    if (window.empty()) break;
    const ssize_t sent = ::send(fd, window.data(), window.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      transfer.Sent(member, static_cast<std::size_t>(sent));
      *moved = true;
    } else if (sent < 0 && WouldBlock(errno)) {
      peer.send_blocked = true;
    } else if (sent < 0 && errno != EINTR) {
      return ConnectionLost(member, errno, ctx);
    }
  }
  for (int call = 0; call < kCallsPerPump && !peer.recv_blocked; ++call) {
    const std::span<std::byte> window = transfer.RecvWindow(member);
    if (window.empty()) break;
    const ssize_t got = ::recv(fd, window.data(), window.size(), MSG_DONTWAIT);
    if (got > 0) {
      transfer.Received(member, static_cast<std::size_t>(got));
      *moved = true;
    } else if (got == 0) {
      return ConnectionLost(member, 0, ctx);
    } else if (WouldBlock(errno)) {
      peer.recv_blocked = true;
    } else if (errno != EINTR) {
      return ConnectionLost(member, errno, ctx);
    }
  }
  return Status::Ok();
}

Status TcpEngine::Wait(TcpTransfer& transfer, OpContext& ctx, int timeout_ms) {
  poll_fds_.clear();
  poll_owner_.clear();
  for (int m : transfer.peers()) {
    PeerState& peer = peers_[static_cast<std::size_t>(m)];
    short events = 0;
    if (peer.send_blocked && !transfer.SendWindow(m).empty()) events |= POLLOUT;
    if (peer.recv_blocked && !transfer.RecvWindow(m).empty()) events |= POLLIN;
    if (events == 0) continue;
    poll_fds_.push_back({links_[static_cast<std::size_t>(m)].data.get(), events, 0});
    poll_owner_.push_back(m);
  }
  for (int m = 0; m < size(); ++m) {
    if (m == member_ || !peers_[static_cast<std::size_t>(m)].control_open) continue;
    poll_fds_.push_back({links_[static_cast<std::size_t>(m)].control.get(), POLLIN, 0});
    poll_owner_.push_back(-1 - m);
  }
  const int ready = ::poll(poll_fds_.data(), poll_fds_.size(), timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) return Status::Ok();
    ControlMessage notice;
    notice.kind = ControlMessage::Kind::kStopLost;
    notice.ranks = {comm_rank(member_)};
    notice.detail = "failed: " + ErrnoMessage("poll", errno);
    return Fail(InternalError(ctx.op.Describe() + ": " + notice.detail), notice);
  }
  if (ready == 0) return Status::Ok();
  // Control first: when a peer stopped and closed, its reason arrives before the close.
  for (std::size_t i = 0; i < poll_fds_.size(); ++i) {
    if (poll_owner_[i] < 0 && poll_fds_[i].revents != 0) {
      TRAIN_RETURN_IF_ERROR(ReadControl(-1 - poll_owner_[i], ctx));
    }
  }
  for (std::size_t i = 0; i < poll_fds_.size(); ++i) {
    if (poll_owner_[i] < 0 || poll_fds_[i].revents == 0) continue;
    PeerState& peer = peers_[static_cast<std::size_t>(poll_owner_[i])];
    const short revents = poll_fds_[i].revents;
    // Errors and hang-ups are read back by the next send or recv.
    if (revents & (POLLOUT | POLLERR | POLLHUP)) peer.send_blocked = false;
    if (revents & (POLLIN | POLLERR | POLLHUP)) peer.recv_blocked = false;
  }
  return Status::Ok();
}

Status TcpEngine::Expire(TcpTransfer& transfer, OpContext& ctx) {
  // What this member still waited on, and who said it is in this op.
  std::vector<int> waiting, absent, closed;
  for (int m : transfer.peers()) {
    if (!transfer.SendWindow(m).empty() || !transfer.RecvWindow(m).empty()) {
      waiting.push_back(m);
    }
  }
  for (int m = 0; m < size(); ++m) {
    if (m == member_) continue;
    const PeerState& peer = peers_[static_cast<std::size_t>(m)];
    if (!peer.control_open) closed.push_back(m);
    if (!peer.answered || peer.answered_op < op_index_) absent.push_back(m);
  }
  // A member that closed its connections is why nothing came: one this member waited on, or
  // one that died (one that shut down cleanly may just have finished its part).
  int culprit = -1;
  for (int m : closed) {
    const bool waited = std::find(waiting.begin(), waiting.end(), m) != waiting.end();
    if (waited || (culprit < 0 && !peers_[static_cast<std::size_t>(m)].left)) culprit = m;
    if (waited) break;
  }
  if (culprit >= 0) {
    ControlMessage notice;
    notice.kind = ControlMessage::Kind::kStopLost;
    notice.ranks = {comm_rank(culprit)};
    notice.detail = ClosedDetail(culprit);
    return Fail(ctx.PeerLost(notice.ranks[0], notice.detail), notice);
  }
  std::vector<int> culprits;
  for (int m : waiting) {
    if (std::find(absent.begin(), absent.end(), m) != absent.end()) culprits.push_back(m);
  }
  if (culprits.empty()) culprits = !absent.empty() ? absent : waiting;
  if (culprits.empty()) culprits = transfer.peers();
  ControlMessage notice;
  notice.kind = ControlMessage::Kind::kStopTimeout;
  for (int m : culprits) notice.ranks.push_back(comm_rank(m));
  return Fail(ctx.StopStatus(notice.ranks), notice);
}

Status TcpEngine::Run(TcpTransfer& transfer, OpContext& ctx, std::chrono::microseconds spin) {
  if (!broken_.ok()) return broken_;
  for (int m : transfer.peers()) {
    peers_[static_cast<std::size_t>(m)].send_blocked = false;
    peers_[static_cast<std::size_t>(m)].recv_blocked = false;
  }
  const Deadline query_time = QueryTime(ctx);
  auto last_moved = Clock::now();
  while (true) {
    bool moved = false;
    for (int m : transfer.peers()) TRAIN_RETURN_IF_ERROR(Pump(transfer, m, ctx, &moved));
    if (transfer.Done()) return Status::Ok();
    if (ctx.Aborted()) {
      ControlMessage notice;
      notice.kind = ControlMessage::Kind::kStopAborted;
      notice.ranks = {comm_rank(member_)};
      return Fail(ctx.StopStatus({}), notice);
    }
    const auto now = Clock::now();
    if (now >= ctx.deadline) return Expire(transfer, ctx);
    if (!queried_ && now >= query_time) {
      queried_ = true;
      ControlMessage query;
      query.kind = ControlMessage::Kind::kQuery;
      query.op = op_index_;
      for (int m = 0; m < size(); ++m) {
        if (m != member_) Notify(m, query);
      }
    }
    // While bytes flow, or shortly after they stopped when spinning, only glance at the
    // connections; otherwise sleep in poll.
    if (moved) last_moved = now;
    const bool spinning = !moved && now - last_moved < spin;
    if (spinning) sched_yield();
    const Deadline wake = queried_ ? ctx.deadline : query_time;
    TRAIN_RETURN_IF_ERROR(Wait(transfer, ctx, moved || spinning ? 0 : MillisUntil(wake, now)));
  }
}

}  // namespace train::internal
