#include "store_probe.h"

#include <algorithm>

namespace bench {

using Clock = std::chrono::steady_clock;

RoundTripProbe::RoundTripProbe(const StoreOpener& open, std::chrono::milliseconds every) {
  auto store = open();
  if (!store.ok()) {
    failures_ = 1;
    return;
  }
  thread_ = std::thread([this, every, client = std::move(store).value()] {
    while (!stopping_) {
      const auto start = Clock::now();
      const bool ok = client->TryGet("probe").ok();
      const auto end = Clock::now();
      if (ok) {
        trips_ms_.push_back(std::chrono::duration<double, std::milli>(end - start).count());
      } else {
        ++failures_;
      }
      std::this_thread::sleep_until(start + every);
    }
  });
}

RoundTripProbe::~RoundTripProbe() { Stop(); }

std::vector<double> RoundTripProbe::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  return trips_ms_;
}

KeyWatch::KeyWatch(const StoreOpener& open, std::string key)
    : thread_([this, open, key = std::move(key)] {
        auto store = open();
        if (!store.ok()) return;
        if ((*store)->Get(key, std::chrono::minutes(2)).ok()) seen_ = Clock::now();
      }) {}

KeyWatch::~KeyWatch() { Join(); }

std::optional<Clock::time_point> KeyWatch::Join() {
  if (thread_.joinable()) thread_.join();
  return seen_;
}

double Quantile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1) + 0.5);
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(k),
                   samples.end());
  return samples[k];
}

}  // namespace bench
