#include "params_digest.h"

#include <openssl/evp.h>

#include "train/status.h"

namespace fashion_mnist {

std::string Sha256Hex(const void* data, std::size_t bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  TRAIN_CHECK(EVP_Digest(data, bytes, digest, &length, EVP_sha256(), nullptr) == 1);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace fashion_mnist
