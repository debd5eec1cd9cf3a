// The collective steps of saving and loading over a Communicator (CPU tensors), or a job of one
// process when there is none. Strings travel as bytes: a length first, then the padded bytes.
#ifndef TRAIN_CHECKPOINT_RANK_GROUP_H_
#define TRAIN_CHECKPOINT_RANK_GROUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "train/communicator.h"
#include "train/status.h"

namespace train::internal {

class RankGroup {
 public:
  explicit RankGroup(Communicator* comm)
      : comm_(comm), rank_(comm ? comm->rank() : 0), size_(comm ? comm->world_size() : 1) {}

  int rank() const { return rank_; }
  int size() const { return size_; }

  Status Barrier();
  // The maximum of `value` over ranks.
  Result<std::int64_t> Max(std::int64_t value);
  // Rank 0's `text`, on every rank.
  Result<std::string> BroadcastFromRoot(const std::string& text);
  // Every rank's `text`, by rank.
  Result<std::vector<std::string>> AllGather(const std::string& text);

 private:
  Communicator* comm_;
  int rank_;
  int size_;
};

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_RANK_GROUP_H_
