#include "cpu/shm_sync.h"

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>
#include <utility>

namespace train::internal {
namespace {

// FUTEX_WAIT / FUTEX_WAKE, not the _PRIVATE forms: the word lives in a mapping shared between
// processes.
void FutexWait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
               std::chrono::nanoseconds timeout) {
  const auto ns = std::max<std::int64_t>(timeout.count(), 0);
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr,
            0);
}

void FutexWake(std::atomic<std::uint32_t>* word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr,
            nullptr, 0);
}

}  // namespace

ShmSync::ShmSync(ShmSegment* segment, int member, std::vector<int> comm_ranks, bool oversubscribed)
    : segment_(segment),
      member_(member),
      size_(segment->layout().size),
      comm_ranks_(std::move(comm_ranks)),
      min_spin_(oversubscribed ? kMinSpin : kMinSpinWithOwnCpu),
      spin_(oversubscribed ? kMinSpin : kMaxSpin),
      // With a CPU per member the peer is running: yielding only keeps two members that
      // landed on one CPU passing it back and forth after full spins (~100 us per op).
      yield_poll_(oversubscribed ? kYieldPoll : std::chrono::nanoseconds(0)),
      pid_namespace_(PidNamespace()) {}

bool ShmSync::Met(const ShmCondition& condition) const {
  if (condition.only >= 0) {
    return CounterDiff(Load(condition.only, condition.stage), condition.target) >= 0;
  }
  for (int m = 0; m < size_; ++m) {
    if (m == member_) continue;
    if (CounterDiff(Load(m, condition.stage), condition.target) < 0) return false;
  }
  return true;
}

bool ShmSync::AnyMet(const ShmCondition* conditions, int count) const {
  for (int i = 0; i < count; ++i) {
    if (Met(conditions[i])) return true;
  }
  return false;
}

void ShmSync::Publish(Stage stage, std::uint32_t value) {
  const int s = static_cast<int>(stage);
  // seq_cst: ordered before the loads of `sleeping` below, as a sleeper's store of `sleeping`
  // is ordered before its loads of the counters: one of the two sees the other.
  segment_->control(member_)->counters[s].value.store(value, std::memory_order_seq_cst);
  for (int m = 0; m < size_; ++m) {
    if (m == member_) continue;
    ShmMemberControl* other = segment_->control(m);
    if (other->sleeping.load(std::memory_order_seq_cst) == 0) continue;
    if ((other->wait_mask.load(std::memory_order_seq_cst) & (1u << s)) == 0) continue;
    if (CounterDiff(value, other->wait_at[s].load(std::memory_order_seq_cst)) < 0) continue;
    other->bell.fetch_add(1, std::memory_order_seq_cst);
    FutexWake(&other->bell);
  }
}

void ShmSync::Sleep(const ShmCondition* conditions, int count, std::chrono::nanoseconds slice) {
  ShmMemberControl* self = segment_->control(member_);
  std::uint32_t mask = 0;
  for (int i = 0; i < count; ++i) {
    const int s = static_cast<int>(conditions[i].stage);
    mask |= 1u << s;
    self->wait_at[s].store(conditions[i].target, std::memory_order_seq_cst);
  }
  self->wait_mask.store(mask, std::memory_order_seq_cst);
  const std::uint32_t bell = self->bell.load(std::memory_order_seq_cst);
  self->sleeping.store(1, std::memory_order_seq_cst);
  if (!AnyMet(conditions, count) &&
      segment_->header()->abort_word.load(std::memory_order_seq_cst) == 0) {
    FutexWait(&self->bell, bell, slice);
  }
  self->sleeping.store(0, std::memory_order_relaxed);
}

void ShmSync::WakeAll() {
  for (int m = 0; m < size_; ++m) {
    ShmMemberControl* other = segment_->control(m);
    other->bell.fetch_add(1, std::memory_order_seq_cst);
    FutexWake(&other->bell);
  }
}

void ShmSync::Abort() {
  std::uint32_t expected = 0;
  segment_->header()->abort_word.compare_exchange_strong(
      expected, static_cast<std::uint32_t>(member_ + 1), std::memory_order_seq_cst);
  WakeAll();
}

void ShmSync::Leave() {
  segment_->control(member_)->left.store(kShmLeftAfterError, std::memory_order_release);
}

void ShmSync::RecordLostElsewhere(int comm_rank) {
  std::uint32_t expected = 0;
  segment_->header()->lost_word.compare_exchange_strong(
      expected, static_cast<std::uint32_t>(comm_rank + 1) | kShmLostElsewhere,
      std::memory_order_acq_rel);
  WakeAll();
}

void ShmSync::Close() {
  std::uint32_t expected = kShmPresent;
  segment_->control(member_)->left.compare_exchange_strong(expected, kShmClosed,
                                                           std::memory_order_seq_cst);
  WakeAll();
}

Status ShmSync::CheckAbort(OpContext& ctx) {
  if (ctx.Aborted()) {
    Abort();
    return ctx.StopStatus({});
  }
  ShmHeader* header = segment_->header();
  const std::uint32_t aborted_by = header->abort_word.load(std::memory_order_acquire);
  if (aborted_by != 0) {
    const int by = static_cast<int>(aborted_by) - 1;
    if (by == member_) return AbortedError(ctx.op.Describe() + " was aborted");
    return AbortedError(ctx.op.Describe() + ": rank " + std::to_string(comm_ranks_[by]) +
                        " aborted the shared-memory group");
  }
  const std::uint32_t lost = header->lost_word.load(std::memory_order_acquire);
  if (lost != 0) return PeerLost(lost, ctx);
  return Status::Ok();
}

Status ShmSync::RecordLost(int member, bool closed, OpContext& ctx) {
  // The first member to notice names the culprit for everyone.
  std::uint32_t expected = 0;
  const std::uint32_t word = static_cast<std::uint32_t>(member + 1) | (closed ? kShmLostClosed : 0);
  segment_->header()->lost_word.compare_exchange_strong(expected, word, std::memory_order_acq_rel);
  WakeAll();
  return PeerLost(expected == 0 ? word : expected, ctx);
}

Status ShmSync::PeerLost(std::uint32_t lost_word, OpContext& ctx) const {
  if ((lost_word & kShmLostElsewhere) != 0) {
    return ctx.PeerLost(static_cast<int>(lost_word & ~kShmLostElsewhere) - 1,
                        "is gone (a rank on this host lost it during the op)");
  }
  const int member = static_cast<int>(lost_word & ~kShmLostClosed) - 1;
  if ((lost_word & kShmLostClosed) != 0) {
    return ctx.PeerLost(comm_ranks_[member], "closed its communicator during the op");
  }
  const pid_t pid = segment_->control(member)->pid.load(std::memory_order_relaxed);
  return ctx.PeerLost(comm_ranks_[member],
                      "(pid " + std::to_string(pid) + ") exited during the op");
}

Status ShmSync::CheckPeersAlive(const ShmCondition* conditions, int count, OpContext& ctx) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_liveness_check_ < std::chrono::milliseconds(5)) return Status::Ok();
  last_liveness_check_ = now;
  const pid_t self = ::getpid();
  for (int m = 0; m < size_; ++m) {
    if (m == member_) continue;
    // Only the members this one waits for: one that finished its part and exited is fine.
    bool blocking = false;
    for (int i = 0; i < count && !blocking; ++i) {
      const ShmCondition& c = conditions[i];
      blocking = (c.only < 0 || c.only == m) && CounterDiff(Load(m, c.stage), c.target) < 0;
    }
    if (!blocking) continue;
    ShmMemberControl* control = segment_->control(m);
    const std::uint32_t left = control->left.load(std::memory_order_acquire);
    if (left == kShmClosed) return RecordLost(m, /*closed=*/true, ctx);
    const pid_t pid = control->pid.load(std::memory_order_relaxed);
    if (pid <= 0 || pid == self || left != kShmPresent) continue;
    // Another pid namespace (containers that share /dev/shm but not pids): its pid is not
    // ours to look up; the deadline will tell.
    if (control->pid_namespace.load(std::memory_order_relaxed) != pid_namespace_) continue;
    if (ProcessGone(pid)) return RecordLost(m, /*closed=*/false, ctx);
  }
  return Status::Ok();
}

Status ShmSync::StopStatus(OpContext& ctx, const std::vector<int>& members) {
  std::vector<int> ranks;
  ranks.reserve(members.size());
  for (int m : members) ranks.push_back(comm_ranks_[m]);
  return ctx.StopStatus(ranks);
}

}  // namespace train::internal
