#include "train/version.h"

namespace train {

std::string_view LibraryVersion() { return TRAIN_VERSION_STRING; }

}  // namespace train
