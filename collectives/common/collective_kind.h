// Which collective an op is: how the backends name it in errors, logs and their ledgers.
#ifndef TRAIN_COLLECTIVES_COMMON_COLLECTIVE_KIND_H_
#define TRAIN_COLLECTIVES_COMMON_COLLECTIVE_KIND_H_

#include <string_view>

namespace train::internal {

enum class CollectiveKind { kAllReduce, kReduceScatter, kAllGather, kBroadcast, kBarrier };

// "allreduce", "reducescatter", "allgather", "broadcast", "barrier".
std::string_view CollectiveKindName(CollectiveKind kind);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_COLLECTIVE_KIND_H_
