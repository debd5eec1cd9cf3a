// Loading: rank 0 names the committed steps, newest first. For each, the ranks first agree that
// it fits the request (a misfit is an error and touches nothing); then every rank streams the
// files its part needs straight into the caller's tensors, checking each file's CRC32C as it
// reads, and the ranks agree whether all files checked. If one did not, the step's bytes in
// the tensors count for nothing: the next older step overwrites every requested element, or
// the load fails (the tensors' contents are then unspecified). OK is returned only with data
// from files that checked.
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
