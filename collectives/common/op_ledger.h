// Where each rank publishes the op it is blocked in, so that a rank whose op timed out can name
// the ranks that did not arrive. Only ops still running after a moment are published: the fast
// path costs no store traffic.
#ifndef TRAIN_COLLECTIVES_COMMON_OP_LEDGER_H_
#define TRAIN_COLLECTIVES_COMMON_OP_LEDGER_H_

#include <string>
#include <vector>

#include "common/op.h"
#include "train/store.h"

namespace train::internal {

class OpLedger {
 public:
  // `store` may be null: errors then name only the transport's suspects.
  OpLedger(Store* store, std::string name, int rank, int world_size);

  // Publishes `op` as what this rank is blocked in (one store write; a failure is logged).
  void Publish(const OpRecord& op);

  // DEADLINE_EXCEEDED for `op` after `waited`: publishes this rank's record, reads the others'
  // and names the ranks that did not arrive (published nothing, or an older op), those that
  // entered a different op under the same number, and `suspects` (ranks the transport was
  // still waiting for) when the store cannot tell.
  Status TimeoutError(const OpRecord& op, Milliseconds waited, const std::vector<int>& suspects);

  // The store key rank `rank` publishes under.
  std::string KeyFor(int rank) const;

 private:
  Store* store_;
  const std::string name_;
  const int rank_;
  const int world_size_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_OP_LEDGER_H_
