// A tiny, fully specified random generator, so that a seed means the same weights and the same
// sample order with every compiler and standard library (std::uniform_*_distribution and
// std::shuffle are implementation-defined).
#ifndef EXAMPLES_FASHION_MNIST_RNG_H_
#define EXAMPLES_FASHION_MNIST_RNG_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace fashion_mnist {

// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, trivially seedable.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1) with 24 bits: every value is exact in a float.
  float NextUnit() { return static_cast<float>(Next() >> 40) * 0x1.0p-24f; }

  // Uniform in [0, bound) for bound <= 2^32 by Lemire's multiply-shift; the bias (at most
  // bound / 2^32) is far below anything a shuffle of training data can notice.
  uint32_t NextBelow(uint32_t bound) {
    return static_cast<uint32_t>(((Next() >> 32) * bound) >> 32);
  }

 private:
  uint64_t state_;
};

// Fisher-Yates shuffle driven by `rng`.
template <typename T>
void Shuffle(std::vector<T>& items, SplitMix64& rng) {
  for (size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[rng.NextBelow(static_cast<uint32_t>(i))]);
  }
}

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_RNG_H_
