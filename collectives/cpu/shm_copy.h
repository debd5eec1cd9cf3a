// Copies for the shared-memory transport: into the slots (cached: a peer reads them next) and
// out to the caller's buffers (streaming stores for large messages, so the output does not
// push the slots out of the cache nor cost a read of each destination line).
#ifndef TRAIN_COLLECTIVES_CPU_SHM_COPY_H_
#define TRAIN_COLLECTIVES_CPU_SHM_COPY_H_

#include <cstddef>
#include <cstring>

namespace train::internal {

// A copy that leaves the destination in the cache.
inline void CachedCopy(void* dst, const void* src, std::size_t bytes) {
  if (bytes != 0 && dst != src) std::memcpy(dst, src, bytes);
}

// A copy with non-temporal stores where the CPU has them (plain memcpy elsewhere). The stores
// are weakly ordered: call StreamFence before anyone else may read the destination.
void StreamCopy(void* dst, const void* src, std::size_t bytes);
void StreamFence();

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_SHM_COPY_H_
