#include "crc32c.h"

#include <array>
#include <cstring>

namespace train::internal {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78;  // CRC32C, reflected

std::array<std::uint32_t, 256> MakeTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    table[i] = crc;
  }
  return table;
}

std::uint32_t ExtendWithTable(std::uint32_t state, const unsigned char* p, std::size_t size) {
  static const std::array<std::uint32_t, 256> table = MakeTable();
  for (std::size_t i = 0; i < size; ++i) state = table[(state ^ p[i]) & 0xFF] ^ (state >> 8);
  return state;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t ExtendWithSse42(std::uint32_t state,
                                                                const unsigned char* p,
                                                                std::size_t size) {
  std::uint64_t state64 = state;
  while (size >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    state64 = __builtin_ia32_crc32di(state64, word);
    p += 8;
    size -= 8;
  }
  state = static_cast<std::uint32_t>(state64);
  while (size > 0) {
    state = __builtin_ia32_crc32qi(state, *p++);
    --size;
  }
  return state;
}

bool CpuHasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

std::uint32_t Crc32cExtendPortable(std::uint32_t crc, const void* data, std::size_t size) {
  return ~ExtendWithTable(~crc, static_cast<const unsigned char*>(data), size);
}

std::uint32_t Crc32cExtend(std::uint32_t crc, const void* data, std::size_t size) {
#if defined(__x86_64__)
  if (CpuHasSse42()) return ~ExtendWithSse42(~crc, static_cast<const unsigned char*>(data), size);
#endif
  return Crc32cExtendPortable(crc, data, size);
}

}  // namespace train::internal
