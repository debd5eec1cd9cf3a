#include "store/store_keys.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace train::internal {
namespace {

constexpr std::size_t kMaxShownBytes = 80;
constexpr std::size_t kMaxShownKeys = 8;

}  // namespace

std::string Quoted(std::string_view bytes) {
  std::string out = "'";
  const std::size_t shown = std::min(bytes.size(), kMaxShownBytes);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    }
  }
  if (shown < bytes.size()) out += "...";
  return out + "'";
}

Status ValidateKey(std::string_view key, std::size_t max_bytes) {
  if (key.empty()) {
    return InvalidArgumentError("the key is empty: keys are non-empty printable ASCII");
  }
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c <= 0x20 || c >= 0x7f) {
      char byte[8];
      std::snprintf(byte, sizeof(byte), "0x%02x", c);
      return InvalidArgumentError("key " + Quoted(key) + " has byte " + byte + " at offset " +
                                  std::to_string(i) +
                                  ": keys are printable ASCII without spaces (0x21 to 0x7e)");
    }
  }
  if (max_bytes != 0 && key.size() > max_bytes) {
    return InvalidArgumentError("key " + Quoted(key) + " is " + std::to_string(key.size()) +
                                " bytes, over the store's limit of " + std::to_string(max_bytes) +
                                " bytes (StoreLimits.max_key_bytes): use a shorter key");
  }
  return Status::Ok();
}

std::string DeadlineMessage(const std::vector<std::string>& keys,
                            const std::vector<std::string>& missing, Milliseconds timeout) {
  std::string out = "timed out after " + std::to_string(timeout.count()) + " ms waiting for ";
  if (keys.size() == 1) {
    out += "key " + Quoted(keys.front());
  } else {
    out += std::to_string(missing.size()) + " of " + std::to_string(keys.size()) + " keys";
    for (std::size_t i = 0; i < missing.size() && i < kMaxShownKeys; ++i) {
      out += (i == 0 ? ": " : ", ") + Quoted(missing[i]);
    }
    if (missing.size() > kMaxShownKeys) {
      out += ", and " + std::to_string(missing.size() - kMaxShownKeys) + " more";
    }
  }
  return out +
         "; is the process that sets them running, and does it use the same store and key "
         "prefix?";
}

}  // namespace train::internal
