// The Checkpointer of train/checkpoint.h, with the file layer injectable for tests.
#ifndef TRAIN_CHECKPOINT_CHECKPOINTER_H_
#define TRAIN_CHECKPOINT_CHECKPOINTER_H_

#include <memory>
#include <string>

#include "file_layer.h"
#include "train/checkpoint.h"

namespace train::internal {

// Checkpointer::Open, writing through `files`.
Result<std::unique_ptr<Checkpointer>> OpenCheckpointer(const std::string& dir, Communicator* comm,
                                                       const CheckpointOptions& options,
                                                       std::shared_ptr<const FileLayer> files);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_CHECKPOINTER_H_
