// CRC32C (Castagnoli): the checksum of every checkpoint file, computed from the bytes as they
// are written. SSE4.2's crc32 instruction when the CPU has it, else a table.
#ifndef TRAIN_CHECKPOINT_CRC32C_H_
#define TRAIN_CHECKPOINT_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace train::internal {

// Continues `crc` (0 for a new stream) over `size` bytes at `data`.
std::uint32_t Crc32cExtend(std::uint32_t crc, const void* data, std::size_t size);

inline std::uint32_t Crc32c(const void* data, std::size_t size) {
  return Crc32cExtend(0, data, size);
}

// Always the table version, to check the fast one against.
std::uint32_t Crc32cExtendPortable(std::uint32_t crc, const void* data, std::size_t size);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_CRC32C_H_
