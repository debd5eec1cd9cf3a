// How the ranks of a new NCCL communicator agree on its ncclUniqueId: rank 0 makes one and
// publishes it in the store, or broadcasts it through a CPU communicator under mpirun.
#ifndef TRAIN_COLLECTIVES_NCCL_NCCL_UNIQUE_ID_H_
#define TRAIN_COLLECTIVES_NCCL_NCCL_UNIQUE_ID_H_

#include <nccl.h>

#include <string>

#include "common/backends.h"

namespace train::internal {

// Hex, so that the store sees printable text whatever the id's bytes.
std::string EncodeUniqueId(const ncclUniqueId& id);
Result<ncclUniqueId> DecodeUniqueId(const std::string& text);

// Every rank of `args` gets rank 0's id: through args.bootstrap when set, else through
// args.store under "<name>/nccl-id/<n>" (n counts the communicators of that name this rank
// created, so a name used again never reads a stale id). A world of one needs neither.
Result<ncclUniqueId> ExchangeUniqueId(const BackendArgs& args, Deadline deadline);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_NCCL_NCCL_UNIQUE_ID_H_
