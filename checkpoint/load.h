// Loading: rank 0 names the committed steps, newest first; every rank reads and checks the
// files its part needs; the ranks agree on the first step that every rank could load, and only
// then copy into the caller's tensors (a skipped checkpoint leaves them untouched).
#ifndef TRAIN_CHECKPOINT_LOAD_H_
#define TRAIN_CHECKPOINT_LOAD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "file_layer.h"
#include "rank_group.h"
#include "train/checkpoint.h"

namespace train::internal {

struct LoadSource {
  const FileLayer* files = nullptr;
  std::string dir;
  std::string job_id;  // "" accepts any job
};

// Collective. `only_step`: that step (NOT_FOUND when it is not committed), else the newest
// that loads, skipping damaged ones with a warning naming them.
Result<LoadedCheckpoint> LoadCheckpoint(RankGroup& group, const LoadSource& source,
                                        std::optional<std::int64_t> only_step,
                                        CheckpointState& into);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_LOAD_H_
