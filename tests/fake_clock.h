// The real system with a clock that moves only when told (train/internal/os_env.h): expiry,
// deadlines and silences are tested without sleeping.
#ifndef TRAIN_TESTS_FAKE_CLOCK_H_
#define TRAIN_TESTS_FAKE_CLOCK_H_

#include <atomic>
#include <chrono>

#include "train/internal/os_env.h"

namespace train::testing {

class FakeClock : public internal::OsEnv {
 public:
  std::chrono::steady_clock::time_point SteadyNow() override {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(now_.load()));
  }
  template <typename Rep, typename Period>
  void Advance(std::chrono::duration<Rep, Period> by) {
    now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(by).count();
  }

 private:
  std::atomic<std::chrono::steady_clock::rep> now_{1'000'000'000};
};

}  // namespace train::testing

#endif  // TRAIN_TESTS_FAKE_CLOCK_H_
