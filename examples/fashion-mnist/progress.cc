#include "progress.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace fashion_mnist {

std::string Format(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int size = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out(static_cast<std::size_t>(size > 0 ? size : 0) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), format, args);
  va_end(args);
  out.pop_back();  // the terminating NUL
  return out;
}

Progress::Progress(std::int64_t first_step, std::int64_t total_steps, std::int64_t steps_per_epoch,
                   int global_batch)
    : first_step_(first_step),
      total_steps_(total_steps),
      steps_per_epoch_(steps_per_epoch),
      global_batch_(global_batch),
      step_(first_step) {}

void Progress::Add(std::int64_t step, double loss) {
  step_ = step;
  ++steps_since_line_;
  loss_since_line_ += loss;
}

double Progress::seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

double Progress::samples_per_second() const {
  const double elapsed = seconds();
  return elapsed > 0 ? static_cast<double>((step_ - first_step_) * global_batch_) / elapsed : 0;
}

std::string Progress::Line() {
  const Clock::time_point now = Clock::now();
  const double interval = std::chrono::duration<double>(now - last_line_).count();
  const double rate =
      interval > 0 ? static_cast<double>(steps_since_line_ * global_batch_) / interval : 0;
  const double done = static_cast<double>(step_ - first_step_);
  const double eta = done > 0 ? seconds() / done * static_cast<double>(total_steps_ - step_) : 0;
  const std::int64_t epochs = (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_;
  const std::int64_t epoch = step_ == 0 ? 1 : (step_ - 1) / steps_per_epoch_ + 1;
  const double loss =
      steps_since_line_ > 0 ? loss_since_line_ / static_cast<double>(steps_since_line_) : NAN;
  last_line_ = now;
  steps_since_line_ = 0;
  loss_since_line_ = 0;
  return Format("epoch %lld/%lld step %lld/%lld loss %.4f samples/s %.0f ETA %.0fs",
                static_cast<long long>(epoch), static_cast<long long>(epochs),
                static_cast<long long>(step_), static_cast<long long>(total_steps_), loss, rate,
                eta);
}

}  // namespace fashion_mnist
