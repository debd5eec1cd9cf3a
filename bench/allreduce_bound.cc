#include "allreduce_bound.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace bench {

Summary MeasureCopyGbps(int threads, std::size_t bytes, int reps) {
  std::unique_ptr<char[]> from(new char[bytes]), to(new char[bytes]);
  auto copy = [&] {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const std::size_t lo = bytes * t / threads, hi = bytes * (t + 1) / threads;
        std::memcpy(to.get() + lo, from.get() + lo, hi - lo);
      });
    }
    for (std::thread& th : pool) th.join();
  };
  // First touch by the threads that copy, so the pages are spread as the copies use them.
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const std::size_t lo = bytes * t / threads, hi = bytes * (t + 1) / threads;
        std::memset(from.get() + lo, 1, hi - lo);
        std::memset(to.get() + lo, 0, hi - lo);
      });
    }
    for (std::thread& th : pool) th.join();
  }
  copy();
  std::vector<double> gbps;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    copy();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    gbps.push_back(2.0 * static_cast<double>(bytes) / seconds / 1e9);
  }
  return Summarize(gbps);
}

}  // namespace bench
