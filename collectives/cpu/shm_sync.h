// How the members of a ShmGroup wait for each other: each member publishes per-stage sequence
// counters in the segment (release stores); a member that needs others' counters spins
// briefly, then sleeps on its own futex word ("bell"), having written down which counter
// values would wake it. A publisher rings the bell of a sleeper only when its new value is
// one the sleeper waits for, so nobody makes a system call while everyone keeps up.
//
// While waiting it checks, at least every few milliseconds: this rank's abort flag, the
// segment's abort word (another member aborted), the deadline, and whether every other
// member's process is still alive.
#ifndef TRAIN_COLLECTIVES_CPU_SHM_SYNC_H_
#define TRAIN_COLLECTIVES_CPU_SHM_SYNC_H_

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "common/op_context.h"
#include "cpu/shm_segment.h"

namespace train::internal {

// Tells the CPU this is a spin-wait loop (lets the sibling hyperthread run, saves power).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// a - b for counters that wrap: positive when a is ahead.
inline std::int32_t CounterDiff(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b);
}

// "Every member's (or just member `only`'s) counter `stage` has reached `target`."
struct ShmCondition {
  Stage stage = Stage::kIn;
  std::uint32_t target = 0;
  int only = -1;  // -1: every member but this one
};

class ShmSync {
 public:
  // `comm_ranks` names members in errors. `oversubscribed`: more members than CPUs, so a
  // waiter starts with short spins.
  ShmSync(ShmSegment* segment, int member, std::vector<int> comm_ranks, bool oversubscribed);

  int member() const { return member_; }
  int size() const { return size_; }
  int comm_rank(int member) const { return comm_ranks_[member]; }

  std::uint32_t Load(int member, Stage stage) const {
    return segment_->control(member)->counters[static_cast<int>(stage)].value.load(
        std::memory_order_acquire);
  }
  bool Met(const ShmCondition& condition) const;

  // Sets this member's counter and wakes the members that sleep waiting for it.
  void Publish(Stage stage, std::uint32_t value);

  // Waits until one of `conditions` holds. Non-OK when this rank was aborted or the deadline
  // passed (ctx.StopStatus naming the members `laggards` returns), another member aborted
  // (ABORTED naming it), or a member's process is gone (UNAVAILABLE naming it).
  template <typename Laggards>
  Status WaitAny(const ShmCondition* conditions, int count, OpContext& ctx, Laggards laggards);

  // Marks the segment aborted by this member and wakes everyone.
  void Abort();
  // Records that this member leaves the op after an error: the others then do not report its
  // exit as the cause of their failure.
  void Leave();
  // Records communicator rank `comm_rank`, not a member, as the culprit (unless one was
  // recorded first) and wakes everyone.
  void RecordLostElsewhere(int comm_rank);
  // Records that this member's group is being destroyed and wakes everyone: a member still
  // waiting for it fails at once (UNAVAILABLE naming it).
  void Close();
  // OK, or the status that this rank's abort flag, the segment's abort word or a member
  // found gone calls for (checked by WaitAny; also before each op).
  Status CheckAbort(OpContext& ctx);
  // ctx.StopStatus naming `members` by their communicator ranks.
  Status StopStatus(OpContext& ctx, const std::vector<int>& members);

 private:
  bool AnyMet(const ShmCondition* conditions, int count) const;
  // One sleep on the bell (at most `slice`), having published what would satisfy a wait.
  void Sleep(const ShmCondition* conditions, int count, std::chrono::nanoseconds slice);
  // UNAVAILABLE when a member this one waits for is gone (and had not left after an error).
  Status CheckPeersAlive(const ShmCondition* conditions, int count, OpContext& ctx);
  // Records `member` (gone, or closed) as the culprit unless another was recorded first, and
  // returns the UNAVAILABLE error naming the recorded one.
  Status RecordLost(int member, bool closed, OpContext& ctx);
  Status PeerLost(std::uint32_t lost_word, OpContext& ctx) const;
  void WakeAll();

  ShmSegment* segment_;
  int member_;
  int size_;
  std::vector<int> comm_ranks_;
  static constexpr std::chrono::nanoseconds kMinSpin{1000};
  // With a CPU per member a spin never shrinks below this: a member woken from a futex takes
  // about 20 us to run again, and if both sides spun shorter than that every op would pay a
  // wake-up (two ranks could settle in that slow mode, 20-30 us per 4 KiB all-reduce).
  static constexpr std::chrono::nanoseconds kMinSpinWithOwnCpu{40000};
  static constexpr std::chrono::nanoseconds kMaxSpin{50000};
  // With more members than CPUs, how long a waiter polls with sched_yield() after its spin
  // before it sleeps.
  static constexpr std::chrono::nanoseconds kYieldPoll{2000000};
  std::chrono::nanoseconds min_spin_;
  std::chrono::nanoseconds spin_;
  std::chrono::nanoseconds yield_poll_;
  std::uint64_t pid_namespace_;
  std::chrono::steady_clock::time_point last_liveness_check_{};
};

template <typename Laggards>
Status ShmSync::WaitAny(const ShmCondition* conditions, int count, OpContext& ctx,
                        Laggards laggards) {
  using Clock = std::chrono::steady_clock;
  if (AnyMet(conditions, count)) return Status::Ok();
  // Spin: the other members are usually a few hundred nanoseconds behind. How long adapts:
  // a spin that had to give up (the member waited for had no CPU) halves the next one, a
  // spin that succeeded doubles it, between min_spin_ and kMaxSpin.
  const auto spin_start = Clock::now();
  const auto spin_until = spin_start + spin_;
  for (int i = 1;; ++i) {
    CpuRelax();
    if (AnyMet(conditions, count)) {
      spin_ = std::min<std::chrono::nanoseconds>(spin_ * 2, kMaxSpin);
      return Status::Ok();
    }
    if ((i & 63) == 0) {
      TRAIN_RETURN_IF_ERROR(CheckAbort(ctx));
      if (Clock::now() >= spin_until) break;
    }
  }
  spin_ = std::max<std::chrono::nanoseconds>(spin_ / 2, min_spin_);
  // Poll with sched_yield() before sleeping: the member waited for is usually runnable but
  // without a CPU (more members than CPUs, or other load), and yielding hands it ours at once,
  // while a futex sleep costs a wake-up of tens of microseconds on each side. Bounded, so a
  // member left waiting (the others compute) stops burning its CPU and sleeps.
  const auto yield_until = Clock::now() + yield_poll_;
  for (int i = 1; yield_poll_.count() > 0; ++i) {
    ::sched_yield();
    if (AnyMet(conditions, count)) return Status::Ok();
    if ((i & 15) == 0) {
      TRAIN_RETURN_IF_ERROR(CheckAbort(ctx));
      if (Clock::now() >= yield_until) break;
    }
  }
  // Sleep, in slices short enough to notice aborts, expiry and dead members in time.
  constexpr auto kSlice = std::chrono::milliseconds(10);
  for (;;) {
    TRAIN_RETURN_IF_ERROR(CheckAbort(ctx));
    if (ctx.Expired()) return StopStatus(ctx, laggards());
    const auto left = ctx.deadline - Clock::now();
    Sleep(conditions, count, std::min<std::chrono::nanoseconds>(kSlice, left));
    if (AnyMet(conditions, count)) return Status::Ok();
    TRAIN_RETURN_IF_ERROR(CheckPeersAlive(conditions, count, ctx));
  }
}

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_SHM_SYNC_H_
