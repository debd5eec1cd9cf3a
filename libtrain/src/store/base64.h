// Base64 (RFC 4648, with padding): how values, which are bytes, travel in JSON.
#ifndef TRAIN_SRC_STORE_BASE64_H_
#define TRAIN_SRC_STORE_BASE64_H_

#include <string>
#include <string_view>

#include "train/status.h"

namespace train::internal {

std::string Base64Encode(std::string_view bytes);
// INVALID_ARGUMENT naming the problem (length, character and its offset, misplaced padding).
Result<std::string> Base64Decode(std::string_view text);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_BASE64_H_
