// Keys, and the messages that name them: shared by the store's state, server and client.
#ifndef TRAIN_SRC_STORE_STORE_KEYS_H_
#define TRAIN_SRC_STORE_STORE_KEYS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"
#include "train/store.h"

namespace train::internal {

// Longest timeout honoured; longer ones are clamped so deadlines never overflow.
inline constexpr Milliseconds kMaxStoreTimeout{std::chrono::hours(24) * 365};

// Checks that `key` is non-empty printable ASCII without spaces (and, with a nonzero
// `max_bytes`, not longer than that). The error quotes the key and names the bad byte.
Status ValidateKey(std::string_view key, std::size_t max_bytes = 0);

// `bytes` (a key or a value) in quotes for messages: unprintable bytes escaped, long ones cut.
std::string Quoted(std::string_view bytes);

// "timed out after 100 ms waiting for key 'b'" or "... for 2 of 3 keys: 'b', 'c'", with a hint.
std::string DeadlineMessage(const std::vector<std::string>& keys,
                            const std::vector<std::string>& missing, Milliseconds timeout);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_STORE_KEYS_H_
