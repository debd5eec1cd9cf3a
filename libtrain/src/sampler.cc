#include "train/sampler.h"

#include <charconv>

namespace train {
namespace {

constexpr std::uint64_t kMaxSamples = std::uint64_t{1} << 63;

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int BitsFor(std::uint64_t n) {
  int bits = 1;
  while (bits < 64 && (std::uint64_t{1} << bits) < n) ++bits;
  return bits;
}

Result<std::uint64_t> ParseField(std::string_view text, std::string_view name) {
  const std::string prefix = std::string(name) + "=";
  if (text.substr(0, prefix.size()) != prefix) {
    return InvalidArgumentError("sampler state: expected \"" + prefix + "N\", got \"" +
                                std::string(text) + "\"");
  }
  std::uint64_t value = 0;
  const char* begin = text.data() + prefix.size();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || begin == end) {
    return InvalidArgumentError("sampler state: \"" + std::string(text) +
                                "\" is not a non-negative integer");
  }
  return value;
}

}  // namespace

std::string SamplerState::Serialize() const {
  return "epoch=" + std::to_string(epoch) + " cursor=" + std::to_string(cursor);
}

Result<SamplerState> SamplerState::Parse(std::string_view text) {
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) {
    return InvalidArgumentError("sampler state \"" + std::string(text) +
                                "\" is not of the form \"epoch=E cursor=C\"");
  }
  SamplerState state;
  TRAIN_ASSIGN_OR_RETURN(state.epoch, ParseField(text.substr(0, space), "epoch"));
  TRAIN_ASSIGN_OR_RETURN(state.cursor, ParseField(text.substr(space + 1), "cursor"));
  return state;
}

Permutation::Permutation(std::uint64_t num_samples, std::uint64_t seed, std::uint64_t epoch,
                         bool shuffle)
    : n_(num_samples), shuffle_(shuffle) {
  const int bits = BitsFor(num_samples);
  mask_ = bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
  half_ = bits / 2 > 0 ? bits / 2 : 1;
  const std::uint64_t key = SplitMix64(seed ^ SplitMix64(epoch + 0x5851f42d4c957f2dULL));
  k0_ = SplitMix64(key) & mask_;
  k1_ = SplitMix64(key + 1) & mask_;
  k2_ = SplitMix64(key + 2) & mask_;
}

std::uint64_t Permutation::operator()(std::uint64_t position) const {
  if (!shuffle_) return position;
  // A keyed bijection of [0, 2^bits): each step (xor, odd multiply, add, xorshift) is
  // invertible modulo 2^bits. Values that land at or above N walk the cycle again, which keeps
  // a bijection of [0, N); since 2^bits < 2N, that takes under two steps on average.
  std::uint64_t x = position;
  do {
    x ^= k0_;
    x = (x * 0xd1342543de82ef95ULL) & mask_;
    x ^= x >> half_;
    x = (x + k1_) & mask_;
    x = (x * 0x9e3779b97f4a7c15ULL) & mask_;
    x ^= x >> half_;
    x ^= k2_;
    x = (x * 0xbf58476d1ce4e5b9ULL) & mask_;
    x ^= x >> half_;
  } while (x >= n_);
  return x;
}

Result<ShardedSampler> ShardedSampler::Create(const SamplerOptions& options, int rank, int world,
                                              SamplerState state) {
  if (options.num_samples == 0 || options.num_samples > kMaxSamples) {
    return InvalidArgumentError("the sampler needs between 1 and 2^63 samples, got " +
                                std::to_string(options.num_samples));
  }
  if (world < 1 || rank < 0 || rank >= world) {
    return InvalidArgumentError("rank " + std::to_string(rank) + " of world " +
                                std::to_string(world) + ": the rank must be in [0, world)");
  }
  if (state.cursor > options.num_samples && options.tail != TailPolicy::kPad) {
    return InvalidArgumentError("sampler state " + state.Serialize() + " is past the epoch's " +
                                std::to_string(options.num_samples) + " samples");
  }
  return ShardedSampler(options, rank, world, state);
}

ShardedSampler::ShardedSampler(const SamplerOptions& options, int rank, int world,
                               SamplerState state)
    : options_(options),
      rank_(rank),
      world_(world),
      state_(state),
      permutation_(options.num_samples, options.seed, state.epoch, options.shuffle) {
  epoch_end_ = ComputeEpochEnd();
}

std::uint64_t ShardedSampler::ComputeEpochEnd() const {
  const std::uint64_t n = options_.num_samples;
  const std::uint64_t c = state_.cursor;
  const std::uint64_t w = static_cast<std::uint64_t>(world_);
  if (c >= n) return c;  // done (a padded epoch may have run past N)
  switch (options_.tail) {
    case TailPolicy::kUneven:
      return n;
    case TailPolicy::kDropLast:
      return c + (n - c) / w * w;
    case TailPolicy::kPad:
      return c + (n - c + w - 1) / w * w;
  }
  return n;
}

std::uint64_t ShardedSampler::SampleAt(std::uint64_t position) const {
  // Padding repeats the epoch from its start (the division only for padded positions).
  const std::uint64_t n = options_.num_samples;
  return permutation_(position < n ? position : position % n);
}

std::vector<std::uint64_t> ShardedSampler::NextBatch(std::size_t batch_size) {
  std::vector<std::uint64_t> batch;
  batch.reserve(batch_size);
  const std::uint64_t w = static_cast<std::uint64_t>(world_);
  std::uint64_t p = state_.cursor + static_cast<std::uint64_t>(rank_);
  for (std::size_t k = 0; k < batch_size && p < epoch_end_; ++k, p += w) {
    batch.push_back(SampleAt(p));
  }
  const std::uint64_t advance = w * batch_size;
  state_.cursor = epoch_end_ - state_.cursor < advance ? epoch_end_ : state_.cursor + advance;
  return batch;
}

bool ShardedSampler::epoch_done() const { return state_.cursor >= epoch_end_; }

void ShardedSampler::StartNextEpoch() {
  state_ = SamplerState{state_.epoch + 1, 0};
  permutation_ = Permutation(options_.num_samples, options_.seed, state_.epoch, options_.shuffle);
  epoch_end_ = ComputeEpochEnd();
}

std::vector<std::uint64_t> ShardedSampler::Remaining() const {
  std::vector<std::uint64_t> out;
  const std::uint64_t w = static_cast<std::uint64_t>(world_);
  for (std::uint64_t p = state_.cursor + static_cast<std::uint64_t>(rank_); p < epoch_end_;
       p += w) {
    out.push_back(SampleAt(p));
  }
  return out;
}

}  // namespace train
