#include "snapshot_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace train::internal {
namespace {

// Below this a second thread costs more than it saves.
constexpr std::uint64_t kParallelCopyBytes = std::uint64_t{32} << 20;

// Copies the bytes [begin, end) of the concatenation of `copies`.
void CopyRange(const std::vector<SnapshotCopy>& copies, std::uint64_t begin, std::uint64_t end) {
  std::uint64_t start = 0;
  for (const SnapshotCopy& copy : copies) {
    const std::uint64_t stop = start + copy.bytes;
    const std::uint64_t lo = std::max(begin, start);
    const std::uint64_t hi = std::min(end, stop);
    if (lo < hi) {
      std::memcpy(copy.to + (lo - start), static_cast<const std::byte*>(copy.from) + (lo - start),
                  hi - lo);
    }
    start = stop;
  }
}

}  // namespace

SnapshotArena::~SnapshotArena() {
  if (memory_ != nullptr) ::munmap(memory_, size_);
}

Result<std::byte*> SnapshotArena::Reserve(std::uint64_t bytes) {
  if (bytes <= size_) return memory_;
  if (memory_ != nullptr) ::munmap(memory_, size_);
  memory_ = nullptr;
  size_ = 0;
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    return ResourceExhaustedError("cannot map " + std::to_string(bytes) +
                                  " bytes for the checkpoint snapshot: " + std::strerror(errno) +
                                  "; lower CheckpointOptions::memory_budget_bytes or save "
                                  "synchronously");
  }
  // Huge pages make faulting in a gigabyte 512 times fewer faults; advice only, so its
  // failure changes nothing.
  static_cast<void>(::madvise(memory, bytes, MADV_HUGEPAGE));
  memory_ = static_cast<std::byte*>(memory);
  size_ = bytes;
  // Fault everything in now rather than during the first snapshot's copy.
  const std::uint64_t half = bytes / 2;
  std::thread helper([this, half] { std::memset(memory_, 0, half); });
  std::memset(memory_ + half, 0, bytes - half);
  helper.join();
  return memory_;
}

void SnapshotArena::CopyAll(const std::vector<SnapshotCopy>& copies) {
  std::uint64_t total = 0;
  for (const SnapshotCopy& copy : copies) total += copy.bytes;
  if (total < kParallelCopyBytes) {
    CopyRange(copies, 0, total);
    return;
  }
  const std::uint64_t half = total / 2;
  std::thread helper([&copies, half] { CopyRange(copies, 0, half); });
  CopyRange(copies, half, total);
  helper.join();
}

}  // namespace train::internal
