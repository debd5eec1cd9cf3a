// The SHA-256 of the parameters' bytes: one line that says whether two runs ended with the
// same model, bit for bit.
#ifndef EXAMPLES_FASHION_MNIST_PARAMS_DIGEST_H_
#define EXAMPLES_FASHION_MNIST_PARAMS_DIGEST_H_

#include <cstddef>
#include <string>

namespace fashion_mnist {

// Lowercase hex of SHA-256 over `bytes` bytes at `data` (OpenSSL's implementation).
std::string Sha256Hex(const void* data, std::size_t bytes);

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_PARAMS_DIGEST_H_
