// Host memory for async snapshots, kept from one save to the next. Allocating and faulting in a
// fresh gigabyte on every save costs ten times the copy itself, so the memory is mapped once
// (transparent huge pages where the kernel allows), faulted in when it grows, and reused; a
// save only copies into it.
#ifndef TRAIN_CHECKPOINT_SNAPSHOT_ARENA_H_
#define TRAIN_CHECKPOINT_SNAPSHOT_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "train/status.h"

namespace train::internal {

// One copy of a snapshot: `bytes` from `from` to `to`.
struct SnapshotCopy {
  std::byte* to;
  const void* from;
  std::size_t bytes;
};

class SnapshotArena {
 public:
  SnapshotArena() = default;
  ~SnapshotArena();
  SnapshotArena(const SnapshotArena&) = delete;
  SnapshotArena& operator=(const SnapshotArena&) = delete;

  // At least `bytes` of faulted-in memory, valid until the next Reserve. Grows, never shrinks:
  // the next save of the same state needs the same size.
  Result<std::byte*> Reserve(std::uint64_t bytes);

  // Rounds `offset` up so that every copy starts on a cache line.
  static std::uint64_t Align(std::uint64_t offset) { return (offset + 63) & ~std::uint64_t{63}; }

  // Performs `copies`, split evenly by bytes over two threads when there is enough to copy: one
  // core's memcpy does not saturate memory bandwidth.
  static void CopyAll(const std::vector<SnapshotCopy>& copies);

 private:
  std::byte* memory_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_SNAPSHOT_ARENA_H_
