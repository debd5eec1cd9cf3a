// Command-line flags of the Fashion-MNIST trainer. Only flags.cc includes CLI11 (it costs
// seconds of compile time per translation unit).
#ifndef EXAMPLES_FASHION_MNIST_FLAGS_H_
#define EXAMPLES_FASHION_MNIST_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace fashion_mnist {

// Exit codes: 0 success, 1 the run failed (missing or corrupt data, a dead peer), 2 a usage
// error (no restart can fix it).
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct TrainFlags {
  std::string train_data = "runs/data/fashion-mnist/train.h5";
  std::string test_data = "runs/data/fashion-mnist/test.h5";
  int epochs = 4;
  std::int64_t max_steps = 0;  // stop after this many steps; 0: every epoch
  int global_batch = 256;      // samples per optimizer step, over all ranks
  int micro_batches = 1;       // each rank's batch is cut into this many, gradients summed
  double lr = 2e-3;
  double weight_decay = 1e-4;
  std::int64_t warmup_steps = 50;
  std::uint64_t seed = 1;
  std::uint64_t limit = 0;     // the first N training samples; 0: all
  std::string checkpoint_dir;  // "": the job's (TRAIN_CHECKPOINT_DIR)
  bool deterministic = true;
  std::int64_t log_every = 50;  // steps between progress lines
  std::string params_out;       // rank 0 writes the final parameters here (raw float32)
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
