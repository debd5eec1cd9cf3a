// Token checks shared by the store's server and client.
#ifndef TRAIN_SRC_STORE_TOKEN_H_
#define TRAIN_SRC_STORE_TOKEN_H_

#include <string_view>

#include "train/status.h"

namespace train::internal {

// Compares in time that depends only on `expected`'s length, so a client cannot learn the
// token byte by byte from response times.
bool ConstantTimeEquals(std::string_view given, std::string_view expected);

// A token must be non-empty printable ASCII without spaces (it travels in an HTTP header).
// The error says what is wrong without showing the token; `what` names where it came from.
Status ValidateToken(std::string_view token, std::string_view what);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_TOKEN_H_
