// Deterministic data sharding that survives restarts and world-size changes.
//
// An epoch's global order is a keyed pseudo-random permutation of [0, N), computed per position
// in O(1) memory from (seed, epoch). The resumable state is (epoch, cursor): how many positions
// of the epoch all ranks together have consumed. Rank r of W takes positions cursor + r,
// cursor + r + W, ...; after a restart with another W the remaining positions are split among
// the new ranks, so every sample is consumed exactly once per epoch (see TailPolicy).
#ifndef TRAIN_SAMPLER_H_
#define TRAIN_SAMPLER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "train/status.h"

namespace train {

// What happens at the end of an epoch when the remaining positions do not split evenly.
enum class TailPolicy {
  kUneven,    // every remaining sample once; some ranks get one fewer (exactly once)
  kPad,       // ranks get equal counts; the shortfall repeats the epoch's first positions
  kDropLast,  // ranks get equal counts; up to W-1 trailing positions are skipped this epoch
};

struct SamplerOptions {
  std::uint64_t num_samples = 0;  // N, at most 2^63
  std::uint64_t seed = 0;
  bool shuffle = true;  // false: position p is sample p
  TailPolicy tail = TailPolicy::kUneven;
};

// Where the job stands in its data; part of every checkpoint.
struct SamplerState {
  std::uint64_t epoch = 0;
  std::uint64_t cursor = 0;  // positions of this epoch consumed by all ranks together

  std::string Serialize() const;  // "epoch=3 cursor=1024"
  static Result<SamplerState> Parse(std::string_view text);
  friend bool operator==(const SamplerState& a, const SamplerState& b) {
    return a.epoch == b.epoch && a.cursor == b.cursor;
  }
};

// The epoch's permutation: the sample at global position `position` (< num_samples).
class Permutation {
 public:
  Permutation(std::uint64_t num_samples, std::uint64_t seed, std::uint64_t epoch, bool shuffle);
  std::uint64_t operator()(std::uint64_t position) const;
  std::uint64_t size() const { return n_; }

 private:
  std::uint64_t n_, mask_, k0_, k1_, k2_;
  int half_;
  bool shuffle_;
};

// One rank's view of the shared order.
class ShardedSampler {
 public:
  // INVALID_ARGUMENT for N == 0 or above 2^63, world < 1, rank outside [0, world), or a state
  // whose cursor is past the epoch.
  static Result<ShardedSampler> Create(const SamplerOptions& options, int rank, int world,
                                       SamplerState state = {});

  // This rank's next `batch_size` samples (fewer at the end of the epoch, none once it is
  // done). Every rank must call it in lockstep: each call advances the shared cursor by
  // world * batch_size positions (clamped to the epoch's end).
  std::vector<std::uint64_t> NextBatch(std::size_t batch_size);

  bool epoch_done() const;
  void StartNextEpoch();  // epoch + 1, cursor 0
  const SamplerState& state() const { return state_; }

  // Every sample this rank takes from the current cursor to the end of the epoch.
  std::vector<std::uint64_t> Remaining() const;

  // The position where this epoch ends for the current world size (N, or less with
  // kDropLast, or more with kPad: positions >= N wrap to the epoch's start).
  std::uint64_t EpochEnd() const { return epoch_end_; }

 private:
  std::uint64_t ComputeEpochEnd() const;
  ShardedSampler(const SamplerOptions& options, int rank, int world, SamplerState state);
  std::uint64_t SampleAt(std::uint64_t position) const;

  SamplerOptions options_;
  int rank_, world_;
  SamplerState state_;
  Permutation permutation_;
  std::uint64_t epoch_end_ = 0;  // fixed at the cursor where this world size took over
};

}  // namespace train

#endif  // TRAIN_SAMPLER_H_
