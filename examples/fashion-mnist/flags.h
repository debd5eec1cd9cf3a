// Command-line flags of the Fashion-MNIST trainer. Only flags.cc includes CLI11 (it costs
// seconds of compile time per translation unit).
#ifndef EXAMPLES_FASHION_MNIST_FLAGS_H_
#define EXAMPLES_FASHION_MNIST_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "fashion_mnist.h"

namespace fashion_mnist {

// Exit codes: 0 success, 1 the run failed (missing or corrupt data), 2 a usage error.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct TrainFlags {
  std::string data_dir = kDefaultDataDir;
  int epochs = 3;
  int batch_size = 64;
  float learning_rate = 0.05f;
  float momentum = 0.9f;
  int64_t limit = 0;  // first N training samples; 0 = all
  uint64_t seed = 1;
};

struct ParsedFlags {
  TrainFlags flags;
  // Set when main should return at once: 0 after --help, kExitUsage after a bad flag (the
  // message is already printed).
  std::optional<int> exit_code;
};

ParsedFlags ParseFlags(int argc, char** argv);

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_FLAGS_H_
