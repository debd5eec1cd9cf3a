// Exactly once per epoch across restarts that change the world size: property tests over
// random sizes, seeds, cursors and world sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "train/sampler.h"

namespace train {
namespace {

// Runs `steps` lockstep batches of `batch` on `world` ranks from `state`; appends what the
// ranks consumed to `seen` and returns the state after.
SamplerState Consume(const SamplerOptions& options, int world, SamplerState state,
                     std::size_t batch, int steps, std::vector<std::uint64_t>* seen) {
  std::vector<ShardedSampler> ranks;
  for (int r = 0; r < world; ++r)
    ranks.push_back(*ShardedSampler::Create(options, r, world, state));
  for (int s = 0; s < steps && !ranks[0].epoch_done(); ++s) {
    for (auto& rank : ranks) {
      for (std::uint64_t sample : rank.NextBatch(batch)) seen->push_back(sample);
    }
  }
  for (const auto& rank : ranks) EXPECT_EQ(rank.state(), ranks[0].state()) << "ranks agree";
  return ranks[0].state();
}

TEST(SamplerResume, WorldSizeChangesKeepExactlyOncePerEpoch) {
  std::mt19937_64 rng(2024);
  for (int trial = 0; trial < 200; ++trial) {
    SamplerOptions options{1 + rng() % 3000, rng(), true, TailPolicy::kUneven};
    std::vector<std::uint64_t> seen;
    SamplerState state{rng() % 5, 0};
    // Up to four restarts, each with a random world size and a random number of steps.
    for (int restart = 0; restart < 4; ++restart) {
      const int world = 1 + static_cast<int>(rng() % 8);
      state = Consume(options, world, state, 1 + rng() % 32, static_cast<int>(rng() % 20), &seen);
    }
    state = Consume(options, 1 + static_cast<int>(rng() % 8), state, 64, 1 << 30, &seen);
    std::sort(seen.begin(), seen.end());
    ASSERT_EQ(seen.size(), options.num_samples) << "trial " << trial;
    for (std::uint64_t i = 0; i < options.num_samples; ++i) {
      ASSERT_EQ(seen[i], i) << "trial " << trial << ": sample " << i << " missing or repeated";
    }
  }
}

TEST(SamplerResume, RemainingIsWhatTheRankStillTakes) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    SamplerOptions options{1 + rng() % 500, rng(), true, TailPolicy::kUneven};
    const int world = 1 + static_cast<int>(rng() % 6);
    const SamplerState state{0, rng() % options.num_samples};
    for (int r = 0; r < world; ++r) {
      auto sampler = *ShardedSampler::Create(options, r, world, state);
      const auto planned = sampler.Remaining();
      std::vector<std::uint64_t> taken;
      while (!sampler.epoch_done()) {
        for (auto s : sampler.NextBatch(7)) taken.push_back(s);
      }
      EXPECT_EQ(planned, taken);
    }
  }
}

TEST(SamplerResume, PaddedAndDroppedTailsAfterAResume) {
  // Resumed at cursor 10 of 103 on 4 ranks: 93 remain.
  const SamplerState state{0, 10};
  std::vector<std::uint64_t> pad, drop;
  for (int r = 0; r < 4; ++r) {
    auto p = *ShardedSampler::Create({103, 1, true, TailPolicy::kPad}, r, 4, state);
    auto d = *ShardedSampler::Create({103, 1, true, TailPolicy::kDropLast}, r, 4, state);
    EXPECT_EQ(p.Remaining().size(), 24u);
    EXPECT_EQ(d.Remaining().size(), 23u);
    for (auto s : p.Remaining()) pad.push_back(s);
    for (auto s : d.Remaining()) drop.push_back(s);
  }
  EXPECT_EQ(pad.size(), 96u) << "93 remaining, padded to a multiple of 4";
  EXPECT_EQ(drop.size(), 92u) << "93 remaining, the last one dropped";
}

}  // namespace
}  // namespace train
