// The permutation and the sharding of one epoch.
#include "train/sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace train {
namespace {

std::vector<std::uint64_t> WholeEpoch(const Permutation& p) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 0; i < p.size(); ++i) out.push_back(p(i));
  return out;
}

bool IsBijection(std::vector<std::uint64_t> values, std::uint64_t n) {
  if (values.size() != n) return false;
  std::sort(values.begin(), values.end());
  for (std::uint64_t i = 0; i < n; ++i) {
    if (values[i] != i) return false;
  }
  return true;
}

TEST(Permutation, IsABijectionForManySizesAndSeeds) {
  std::mt19937_64 rng(7);
  for (std::uint64_t n : {1ULL, 2ULL, 3ULL, 5ULL, 8ULL, 60000ULL, 65537ULL, 100003ULL}) {
    for (int trial = 0; trial < 3; ++trial) {
      const std::uint64_t seed = rng();
      EXPECT_TRUE(IsBijection(WholeEpoch(Permutation(n, seed, trial, true)), n))
          << "n " << n << " seed " << seed;
    }
  }
  for (int trial = 0; trial < 50; ++trial) {
    const std::uint64_t n = 1 + rng() % 5000;
    EXPECT_TRUE(IsBijection(WholeEpoch(Permutation(n, rng(), rng() % 10, true)), n)) << n;
  }
}

TEST(Permutation, SameSeedSameOrderAndEpochsDiffer) {
  const Permutation a(10000, 42, 0, true), b(10000, 42, 0, true), c(10000, 42, 1, true),
      d(10000, 43, 0, true);
  EXPECT_EQ(WholeEpoch(a), WholeEpoch(b));
  EXPECT_NE(WholeEpoch(a), WholeEpoch(c));
  EXPECT_NE(WholeEpoch(a), WholeEpoch(d));
}

TEST(Permutation, ShufflesWell) {
  // Few samples stay in place, and neighbours do not stay neighbours.
  const std::uint64_t n = 100000;
  const Permutation p(n, 1, 0, true);
  int fixed = 0, adjacent = 0;
  for (std::uint64_t i = 0; i + 1 < n; ++i) {
    fixed += p(i) == i;
    adjacent += p(i + 1) == p(i) + 1;
  }
  EXPECT_LT(fixed, 20);
  EXPECT_LT(adjacent, 20);
}

TEST(Permutation, WorksAtTwoToTheSixtyThree) {
  const std::uint64_t n = std::uint64_t{1} << 63;
  const Permutation p(n, 3, 0, true);
  std::vector<std::uint64_t> seen;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    const std::uint64_t v = p(n - 1 - i);
    EXPECT_LT(v, n);
    seen.push_back(v);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end()) << "distinct positions collide";
}

TEST(Permutation, WithoutShuffleIsTheIdentity) {
  const Permutation p(10, 5, 3, false);
  for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(p(i), i);
}

// Every rank's whole epoch (batch by batch), for one world size.
std::vector<std::vector<std::uint64_t>> EpochByRank(const SamplerOptions& options, int world,
                                                    std::size_t batch) {
  std::vector<ShardedSampler> samplers;
  for (int r = 0; r < world; ++r) samplers.push_back(*ShardedSampler::Create(options, r, world));
  std::vector<std::vector<std::uint64_t>> out(static_cast<std::size_t>(world));
  while (!samplers[0].epoch_done()) {
    for (int r = 0; r < world; ++r) {
      for (std::uint64_t s : samplers[static_cast<std::size_t>(r)].NextBatch(batch)) {
        out[static_cast<std::size_t>(r)].push_back(s);
      }
    }
  }
  return out;
}

TEST(ShardedSampler, UnevenTailGivesEverySampleExactlyOnce) {
  SamplerOptions options{1003, 9, true, TailPolicy::kUneven};
  auto by_rank = EpochByRank(options, 4, 16);
  std::vector<std::uint64_t> all;
  for (const auto& r : by_rank) all.insert(all.end(), r.begin(), r.end());
  EXPECT_TRUE(IsBijection(all, 1003));
  EXPECT_EQ(by_rank[0].size(), 251u);
  EXPECT_EQ(by_rank[3].size(), 250u) << "the last ranks get one fewer";
}

TEST(ShardedSampler, PadGivesEqualCountsRepeatingTheEpochStart) {
  SamplerOptions options{1003, 9, true, TailPolicy::kPad};
  auto by_rank = EpochByRank(options, 4, 16);
  std::vector<std::uint64_t> all;
  for (const auto& r : by_rank) {
    EXPECT_EQ(r.size(), 251u);
    all.insert(all.end(), r.begin(), r.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), 1003u) << "every sample at least once, 1 repeated";
}

TEST(ShardedSampler, DropLastGivesEqualCountsSkippingTheTail) {
  SamplerOptions options{1003, 9, true, TailPolicy::kDropLast};
  auto by_rank = EpochByRank(options, 4, 16);
  std::vector<std::uint64_t> all;
  for (const auto& r : by_rank) {
    EXPECT_EQ(r.size(), 250u);
    all.insert(all.end(), r.begin(), r.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::unique(all.begin(), all.end()), all.end()) << "no sample twice";
  EXPECT_EQ(all.size(), 1000u);
}

TEST(ShardedSampler, NextEpochStartsOverWithAnotherOrder) {
  auto sampler = *ShardedSampler::Create({100, 1, true, TailPolicy::kUneven}, 0, 1);
  auto first = sampler.NextBatch(100);
  EXPECT_TRUE(sampler.epoch_done());
  EXPECT_TRUE(sampler.NextBatch(10).empty());
  sampler.StartNextEpoch();
  EXPECT_EQ(sampler.state(), (SamplerState{1, 0}));
  auto second = sampler.NextBatch(100);
  EXPECT_TRUE(IsBijection(second, 100));
  EXPECT_NE(first, second);
}

TEST(ShardedSampler, BadArgumentsAreRefused) {
  EXPECT_FALSE(ShardedSampler::Create({0, 1, true, TailPolicy::kUneven}, 0, 1).ok());
  EXPECT_FALSE(ShardedSampler::Create({10, 1, true, TailPolicy::kUneven}, 2, 2).ok());
  EXPECT_FALSE(ShardedSampler::Create({10, 1, true, TailPolicy::kUneven}, 0, 0).ok());
  auto past = ShardedSampler::Create({10, 1, true, TailPolicy::kUneven}, 0, 1, {0, 11});
  ASSERT_FALSE(past.ok());
  EXPECT_THAT(past.status().message(), ::testing::HasSubstr("past the epoch's 10 samples"));
}

TEST(SamplerState, SerializesAndParses) {
  SamplerState s{3, 1024};
  EXPECT_EQ(s.Serialize(), "epoch=3 cursor=1024");
  EXPECT_EQ(*SamplerState::Parse(s.Serialize()), s);
  for (const char* bad :
       {"", "epoch=3", "epoch=x cursor=1", "cursor=1 epoch=3", "epoch=-1 cursor=0"}) {
    EXPECT_FALSE(SamplerState::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace train
