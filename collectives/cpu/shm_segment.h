// The shared-memory segment of a ShmGroup: its layout (a header, one control block per member,
// then a ring of slots) and the mapping that owns it.
//
//   header            magic, geometry, attach count, abort word
//   control[size]     per member: sequence counters (in, red, out), each on its own cache
//                     line, then a line for sleeping (futex bell, what it waits for) and pid
//   slots[slots]      per slot: one chunk per member (its input), then the reduced chunk
#ifndef TRAIN_COLLECTIVES_CPU_SHM_SEGMENT_H_
#define TRAIN_COLLECTIVES_CPU_SHM_SEGMENT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "train/status.h"

namespace train::internal {

inline constexpr std::uint64_t kShmMagic = 0x31304d4853544c54ull;  // "TLTSHM01"
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::uint32_t kShmLostClosed = 1u << 31;
// In the lost word: the culprit is 1 + a communicator rank outside the group (another group of
// a member's communicator lost it), not a member.
inline constexpr std::uint32_t kShmLostElsewhere = 1u << 30;

struct ShmHeader {
  std::atomic<std::uint64_t> magic;  // set last by the creator
  std::uint32_t size;                // members
  std::uint32_t slots;               // chunks in flight
  std::uint64_t chunk_bytes;         // per member per slot
  std::uint64_t total_bytes;
  // Members that recorded their pid, plus one once the last of them removed the name.
  alignas(kCacheLine) std::atomic<std::uint32_t> attached;
  // 0, or 1 + the member that aborted: every member stops at its next look.
  alignas(kCacheLine) std::atomic<std::uint32_t> abort_word;
  // 0, or 1 + the member whose process was found gone (| kShmLostClosed when it closed its
  // group instead; 1 + a communicator rank | kShmLostElsewhere when a member's other group
  // lost it): every member names the same culprit, even those that only waited for a member
  // that left because of it.
  std::atomic<std::uint32_t> lost_word;
};

// Which counter of a member: a member sets each to 1 + the global number of the last chunk it
// finished the stage of (chunks are numbered across ops, so the counters only grow; they
// wrap, and are compared by difference).
enum class Stage : int { kIn = 0, kRed = 1, kOut = 2 };
inline constexpr int kStages = 3;

// How a member left the group, if it did.
enum ShmLeft : std::uint32_t {
  kShmPresent = 0,
  kShmLeftAfterError = 1,  // mid-op, after an error of its own: its exit is no news
  kShmClosed = 2,          // destroyed its group: whoever still waits for it never gets it
};

struct ShmMemberControl {
  // One line each: written by the member, read by everyone.
  struct alignas(kCacheLine) Counter {
    std::atomic<std::uint32_t> value;
  };
  Counter counters[kStages];
  // Written when the member goes to sleep (rare); read by every member that publishes.
  alignas(kCacheLine) std::atomic<std::uint32_t> sleeping;  // 1 while in (or entering) a wait
  std::atomic<std::uint32_t> wait_mask;                     // bit s: waits for stage s
  std::atomic<std::uint32_t> wait_at[kStages];              // ... to reach this value
  std::atomic<std::int32_t> pid;
  // The member's pid namespace (inode of /proc/self/ns/pid, 0 if unknown): its pid means
  // something only to members in the same one.
  std::atomic<std::uint64_t> pid_namespace;
  std::atomic<std::uint32_t> left;  // a ShmLeft

  // The futex word the member sleeps on; a publisher that satisfies it bumps it and wakes.
  alignas(kCacheLine) std::atomic<std::uint32_t> bell;
};
static_assert(sizeof(ShmMemberControl) == 5 * kCacheLine);

// Byte offsets of each part of a segment for `size` members, `slots` slots of `chunk_bytes`.
struct ShmLayout {
  int size = 1;
  int slots = 1;
  std::size_t chunk_bytes = 0;

  std::size_t ControlOffset() const;
  std::size_t SlotOffset(int slot) const;
  std::size_t InputOffset(int slot, int member) const;  // member's chunk in slot
  std::size_t ResultOffset(int slot) const;             // the reduced chunk of slot
  std::size_t TotalBytes() const;
};

// The inode of this process's pid namespace, 0 when /proc does not tell.
std::uint64_t PidNamespace();

// Whether process `pid` (of this pid namespace) is gone: no such process, or a zombie not
// reaped yet. False when it cannot tell.
bool ProcessGone(int pid);

// A mapped segment. Unmaps on destruction; the name is unlinked separately (Unlink), as soon
// as every member has it open.
class ShmSegment {
 public:
  ~ShmSegment();
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  // Creates a segment under a new name, "/train-shm-<pid namespace>-<pid>-<random>" (O_EXCL,
  // mode 0600), allocated and initialized for `layout`; the magic is set last. First removes
  // the names left by creators of this pid namespace that died before their group formed.
  static Result<std::unique_ptr<ShmSegment>> Create(const ShmLayout& layout);
  // Opens the segment `name` and checks it is one (magic, size).
  static Result<std::unique_ptr<ShmSegment>> Open(const std::string& name);
  // shm_unlink; a name already gone is not an error.
  static Status Unlink(const std::string& name);

  const std::string& name() const { return name_; }
  const ShmLayout& layout() const { return layout_; }
  ShmHeader* header() const { return reinterpret_cast<ShmHeader*>(base_); }
  ShmMemberControl* control(int member) const {
    return reinterpret_cast<ShmMemberControl*>(base_ + layout_.ControlOffset()) + member;
  }
  unsigned char* input(int slot, int member) const {
    return base_ + layout_.InputOffset(slot, member);
  }
  unsigned char* result(int slot) const { return base_ + layout_.ResultOffset(slot); }

 private:
  ShmSegment(std::string name, unsigned char* base, std::size_t bytes, ShmLayout layout)
      : name_(std::move(name)), base_(base), bytes_(bytes), layout_(layout) {}

  std::string name_;
  unsigned char* base_;
  std::size_t bytes_;
  ShmLayout layout_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_SHM_SEGMENT_H_
