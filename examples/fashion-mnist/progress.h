// Rank 0's progress line: where training stands, how fast it goes, when it will end.
//
//   epoch 2/4 step 300/936 loss 0.4127 samples/s 41230 ETA 4s
#ifndef EXAMPLES_FASHION_MNIST_PROGRESS_H_
#define EXAMPLES_FASHION_MNIST_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace fashion_mnist {

class Progress {
 public:
  // Steps first_step + 1 .. total_steps are still to run; each is `global_batch` samples.
  Progress(std::int64_t first_step, std::int64_t total_steps, std::int64_t steps_per_epoch,
           int global_batch);

  // Step `step` completed with this mean loss.
  void Add(std::int64_t step, double loss);

  // The line for the last step added: mean loss and throughput since the previous line, the
  // time left at the average speed so far.
  std::string Line();

  double seconds() const;  // since construction
  // Samples per second over the whole run so far, all ranks together.
  double samples_per_second() const;

 private:
  using Clock = std::chrono::steady_clock;
  std::int64_t first_step_, total_steps_, steps_per_epoch_;
  int global_batch_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_line_ = start_;
  std::int64_t step_ = 0;
  std::int64_t steps_since_line_ = 0;
  double loss_since_line_ = 0;
};

// printf into a std::string.
std::string Format(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_PROGRESS_H_
