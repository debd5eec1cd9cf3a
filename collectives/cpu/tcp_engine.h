// Moves an algorithm's bytes over a TCP group's connections: nonblocking sockets and poll, so
// that a member sends and receives on several connections at once (a ring step sends to the
// right while it receives from the left). Every wait looks at the op's abort flag and deadline
// at least every kTcpPollTick.
//
// Failures: a peer that closes or resets its connection stops the op at once with UNAVAILABLE
// naming it, and every other member is told over the control connections, so they stop too
// and name the same rank. Near its deadline a stuck member asks the others whether they are
// in this op; at the deadline it names the ones that are not (or, when all are, the ones it
// was waiting on) and tells the others, which stop with the same names.
#ifndef TRAIN_COLLECTIVES_CPU_TCP_ENGINE_H_
#define TRAIN_COLLECTIVES_CPU_TCP_ENGINE_H_

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/op_context.h"
#include "cpu/tcp_control.h"
#include "cpu/tcp_mesh.h"

namespace train::internal {

// One step of an algorithm, as the engine sees it: per peer, the bytes that may be sent now
// and the room that may be received into now. A transfer may hold bytes back (a ring forwards
// only what it has reduced) as long as what it waits for is already on its way.
class TcpTransfer {
 public:
  virtual ~TcpTransfer() = default;
  // The members this transfer exchanges bytes with (never this member).
  virtual const std::vector<int>& peers() const = 0;
  // Bytes that may go to `member` now; empty when none for now.
  virtual std::span<const std::byte> SendWindow(int member) = 0;
  virtual void Sent(int member, std::size_t bytes) = 0;
  // Where bytes from `member` may land now; empty when none for now.
  virtual std::span<std::byte> RecvWindow(int member) = 0;
  virtual void Received(int member, std::size_t bytes) = 0;
  virtual bool Done() const = 0;
};

class TcpEngine {
 public:
  TcpEngine(int member, std::vector<TcpLink> links);
  // Tells the others this member leaves (and, after a failure, why), so that a peer still
  // waiting on it says so.
  ~TcpEngine();
  TcpEngine(const TcpEngine&) = delete;
  TcpEngine& operator=(const TcpEngine&) = delete;

  int member() const { return member_; }
  int size() const { return static_cast<int>(links_.size()); }
  int comm_rank(int member) const { return links_[static_cast<std::size_t>(member)].comm_rank; }

  // Starts the next op. Once an op failed the group is broken: returns that first failure.
  Status BeginOp();
  // Breaks the group because another group of this member's communicator lost communicator
  // rank `rank`, and tells the other members so (they stop naming `rank`). No-op when broken.
  void PeerLostElsewhere(int rank, const std::string& detail, OpContext& ctx);
  // Breaks the group because this member's communicator was aborted between ops, and tells
  // the other members (they stop naming this member). No-op when broken.
  void AbortIdle();
  // Runs `transfer` until it is done, or the op fails, is aborted or expires (see above).
  // `spin`: how long after bytes last moved to keep polling (yielding the CPU in between)
  // before sleeping in poll; waking from poll costs more than a small message's transfer.
  Status Run(TcpTransfer& transfer, OpContext& ctx,
             std::chrono::microseconds spin = std::chrono::microseconds(0));

 private:
  struct PeerState {
    bool send_blocked = false;  // the last send would have blocked: wait for POLLOUT
    bool recv_blocked = false;  // the last recv would have blocked: wait for POLLIN
    bool control_open = true;
    bool left = false;      // said "bye": it shut its group down
    bool answered = false;  // `answered_op` holds the latest op the peer said it was in
    std::uint64_t answered_op = 0;
    ControlReader control;
  };

  // Sends and receives what `member`'s windows allow without blocking.
  Status Pump(TcpTransfer& transfer, int member, OpContext& ctx, bool* moved);
  // Waits for readiness (at most `timeout_ms`) and reads control notices.
  Status Wait(TcpTransfer& transfer, OpContext& ctx, int timeout_ms);
  // Reads `member`'s control connection; a stop notice becomes the returned error.
  Status ReadControl(int member, OpContext& ctx);
  // The error for a data connection that closed or failed with `err` (0: closed).
  Status ConnectionLost(int member, int err, OpContext& ctx);
  Status Expire(TcpTransfer& transfer, OpContext& ctx);
  // Records the failure, tells the other members with `notice`, and returns `status`.
  Status Fail(Status status, const ControlMessage& notice);
  // Records a failure (and the notice that tells it) that everyone was told about already.
  Status Adopt(Status status, const ControlMessage& notice);
  void Notify(int member, const ControlMessage& message);
  std::string ClosedDetail(int member) const;

  const int member_;
  std::vector<TcpLink> links_;
  std::vector<PeerState> peers_;
  std::uint64_t op_index_ = 0;
  bool queried_ = false;
  Status broken_;
  ControlMessage broken_notice_;  // what broke the group, told again when this member leaves
  std::vector<pollfd> poll_fds_;
  std::vector<int> poll_owner_;  // member of each poll_fds_ entry; -1 - member for control
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_TCP_ENGINE_H_
