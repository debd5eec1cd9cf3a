// Reproducibility of TCP group results with inexact (random) floats. Deterministic mode: every
// element equals the reduction in member order (float16/bfloat16 accumulated in float32 and
// rounded once), bitwise, whatever the chunk size or message size. Default mode: every member
// ends with bitwise the same result, with the latency algorithms and with the ring, also at
// chunk sizes that split elements' worth of bytes oddly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "tcp_test_support.h"

namespace train::internal::tcp_test {
namespace {

constexpr std::chrono::minutes kOpTimeout{2};

// Member m's element i: the same whatever the message size, so that results of different
// sizes can be compared element by element. Magnitudes vary so that the order of additions
// shows in the low bits.
double RandomInput(int member, std::uint64_t i) {
  // splitmix64 of (member, i): cheap, and the same on every run.
  std::uint64_t z =
      i * 0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(member) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const double mantissa = static_cast<double>(z >> 11) / static_cast<double>(1ull << 53) * 2 - 1;
  const int exponent = static_cast<int>(z % 13) - 6;
  return std::ldexp(mantissa, exponent);
}

std::vector<std::byte> Inputs(DType dtype, int member, std::uint64_t count) {
  const std::size_t element = DTypeSize(dtype);
  std::vector<std::byte> data(count * element);
  for (std::uint64_t i = 0; i < count; ++i) {
    SetElementRounded(dtype, data.data(), i, RandomInput(member, i));
  }
  return data;
}

// Elementwise reduction in member order, as ReduceMany defines it: float32 arithmetic for
// float32 and the 16-bit floats (rounded once at the end), double for float64.
std::vector<std::byte> MemberOrderSum(DType dtype, int size, std::uint64_t count) {
  const std::size_t element = DTypeSize(dtype);
  std::vector<std::vector<std::byte>> inputs;
  for (int m = 0; m < size; ++m) inputs.push_back(Inputs(dtype, m, count));
  std::vector<std::byte> sum(count * element);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (dtype == DType::kFloat64) {
      double total = GetElement(dtype, inputs[0].data(), i);
      for (int m = 1; m < size; ++m) total += GetElement(dtype, inputs[m].data(), i);
      SetElementRounded(dtype, sum.data(), i, total);
    } else {
      float total = static_cast<float>(GetElement(dtype, inputs[0].data(), i));
      for (int m = 1; m < size; ++m) {
        total += static_cast<float>(GetElement(dtype, inputs[m].data(), i));
      }
      SetElementRounded(dtype, sum.data(), i, total);
    }
  }
  return sum;
}

// Runs an all-reduce (or, with `scatter`, a reduce-scatter of `count` per member) of the
// random inputs on every member and returns their outputs.
std::vector<std::vector<std::byte>> Reduce(std::vector<std::unique_ptr<PeerGroup>>& groups,
                                           DType dtype, std::uint64_t count, bool scatter) {
  const int n = static_cast<int>(groups.size());
  const std::size_t element = DTypeSize(dtype);
  std::vector<std::vector<std::byte>> outputs(groups.size());
  OnThreads(n, [&](int m) {
    const std::uint64_t in_count = scatter ? count * static_cast<std::uint64_t>(n) : count;
    std::vector<std::byte> in = Inputs(dtype, m, in_count);
    std::vector<std::byte>& out = outputs[static_cast<std::size_t>(m)];
    out.resize(count * element);
    OpContext ctx =
        MakeContext(scatter ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce, dtype,
                    count, kOpTimeout);
    PeerGroup& group = *groups[static_cast<std::size_t>(m)];
    const Status status =
        scatter ? group.ReduceScatter(in.data(), out.data(), count, dtype, ReduceOp::kSum, ctx)
                : group.AllReduce(in.data(), out.data(), count, dtype, ReduceOp::kSum, ctx);
    EXPECT_TRUE(status.ok()) << "member " << m << ": " << status;
  });
  return outputs;
}

// Index of the first element where `got` and `want` differ bitwise, or -1.
long FirstDifference(const std::vector<std::byte>& got, const std::byte* want, DType dtype) {
  const std::size_t element = DTypeSize(dtype);
  for (std::size_t i = 0; i * element < got.size(); ++i) {
    if (std::memcmp(got.data() + i * element, want + i * element, element) != 0) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

class DeterministicTest : public ::testing::TestWithParam<int> {};

TEST_P(DeterministicTest, EveryElementIsTheMemberOrderReductionWhateverTheChunking) {
  const int n = GetParam();
  const std::vector<DType> dtypes = {DType::kFloat32, DType::kFloat64, DType::kFloat16,
                                     DType::kBFloat16};
  const std::uint64_t largest = 100003;
  std::vector<std::vector<std::byte>> references;
  for (DType dtype : dtypes) references.push_back(MemberOrderSum(dtype, n, largest));

  for (std::size_t chunk :
       {std::size_t{1}, std::size_t{4100}, std::size_t{65536}, std::size_t{1} << 20}) {
    auto store = NewInMemoryStore();
    GroupOptions options;
    options.deterministic = true;
    options.chunk_bytes = chunk;
    auto groups = CreateGroups(store.get(), n, options);
    for (std::size_t d = 0; d < dtypes.size(); ++d) {
      for (std::uint64_t count :
           {std::uint64_t{1}, std::uint64_t{7}, std::uint64_t{1023}, largest}) {
        // One element per chunk costs a syscall per element: keep that case small.
        if (chunk == 1 && count == largest) continue;
        SCOPED_TRACE(std::string(DTypeName(dtypes[d])) + " x " + std::to_string(count) +
                     ", chunk " + std::to_string(chunk));
        const auto outputs = Reduce(groups, dtypes[d], count, /*scatter=*/false);
        for (int m = 0; m < n; ++m) {
          EXPECT_EQ(FirstDifference(outputs[static_cast<std::size_t>(m)], references[d].data(),
                                    dtypes[d]),
                    -1)
              << "member " << m;
        }
      }
    }
  }
}

TEST_P(DeterministicTest, ReduceScatterBlocksAreTheMemberOrderReduction) {
  const int n = GetParam();
  const DType dtype = DType::kBFloat16;
  const std::uint64_t count = 5003;
  const auto reference = MemberOrderSum(dtype, n, count * static_cast<std::uint64_t>(n));
  for (std::size_t chunk : {std::size_t{2}, std::size_t{6000}}) {
    auto store = NewInMemoryStore();
    GroupOptions options;
    options.deterministic = true;
    options.chunk_bytes = chunk;
    auto groups = CreateGroups(store.get(), n, options);
    const auto outputs = Reduce(groups, dtype, count, /*scatter=*/true);
    for (int m = 0; m < n; ++m) {
      const std::byte* block =
          reference.data() + static_cast<std::size_t>(m) * count * DTypeSize(dtype);
      EXPECT_EQ(FirstDifference(outputs[static_cast<std::size_t>(m)], block, dtype), -1)
          << "member " << m << ", chunk " << chunk;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(GroupSizes, DeterministicTest, ::testing::Values(2, 3, 5, 8),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "Members" + std::to_string(param.param);
                         });

class SameResultEverywhereTest : public ::testing::TestWithParam<int> {};

TEST_P(SameResultEverywhereTest, EveryMemberEndsWithBitwiseTheSameSum) {
  const int n = GetParam();
  for (std::size_t chunk : {std::size_t{6}, std::size_t{4096}, std::size_t{0}}) {
    auto store = NewInMemoryStore();
    GroupOptions options;
    options.chunk_bytes = chunk;
    auto groups = CreateGroups(store.get(), n, options);
    for (DType dtype : {DType::kFloat32, DType::kFloat16}) {
      // Recursive doubling, then the ring.
      for (std::uint64_t count : {std::uint64_t{1000}, std::uint64_t{200003}}) {
        SCOPED_TRACE(std::string(DTypeName(dtype)) + " x " + std::to_string(count) + ", chunk " +
                     std::to_string(chunk));
        const auto outputs = Reduce(groups, dtype, count, /*scatter=*/false);
        const auto reference = MemberOrderSum(dtype, n, count);
        for (int m = 0; m < n; ++m) {
          EXPECT_EQ(FirstDifference(outputs[static_cast<std::size_t>(m)], outputs[0].data(), dtype),
                    -1)
              << "member " << m << " differs from member 0";
        }
        // Another order of additions: close to the member-order sum, not equal.
        // Inputs stay below 2^6: n roundings of partial sums below n * 2^6 each.
        const double epsilon = dtype == DType::kFloat16 ? 0x1p-10 : 0x1p-23;
        const double tolerance = n * n * 64 * epsilon;
        for (std::uint64_t i = 0; i < count; ++i) {
          const double got = GetElement(dtype, outputs[0].data(), i);
          const double want = GetElement(dtype, reference.data(), i);
          ASSERT_NEAR(got, want, tolerance) << "element " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(GroupSizes, SameResultEverywhereTest, ::testing::Values(3, 6),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "Members" + std::to_string(param.param);
                         });

}  // namespace
}  // namespace train::internal::tcp_test

namespace train::internal::tcp_test {
namespace {

// The ring reduce-scatter keeps partial sums in two buffers that serve every other step: a
// step reduces into one only as fast as the step before sends out of it. Tiny chunks and many
// members make the reuse happen while sends lag.
TEST(RingReduceScatterTest, TwoReusedBuffersGiveExactSumsAtAnyChunkSize) {
  const int n = 7;
  const std::uint64_t count = 20011;  // per member: 7 blocks of 80 KB take the ring
  for (std::size_t chunk : {std::size_t{6}, std::size_t{4096}}) {
    auto store = NewInMemoryStore();
    GroupOptions options;
    options.chunk_bytes = chunk;
    auto groups = CreateGroups(store.get(), n, options);
    std::vector<std::vector<float>> outputs(static_cast<std::size_t>(n));
    OnThreads(n, [&](int m) {
      std::vector<float> in(count * n);
      for (std::uint64_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>((i + 3 * m) % 11);
      auto& out = outputs[static_cast<std::size_t>(m)];
      out.resize(count);
      OpContext ctx = MakeContext(CollectiveKind::kReduceScatter, DType::kFloat32, count,
                                  std::chrono::minutes(2));
      const Status status = groups[static_cast<std::size_t>(m)]->ReduceScatter(
          in.data(), out.data(), count, DType::kFloat32, ReduceOp::kSum, ctx);
      EXPECT_TRUE(status.ok()) << "member " << m << ": " << status;
    });
    for (int r = 0; r < n; ++r) {
      for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t at = static_cast<std::uint64_t>(r) * count + i;
        float want = 0;
        for (int m = 0; m < n; ++m) want += static_cast<float>((at + 3 * m) % 11);
        ASSERT_EQ(outputs[static_cast<std::size_t>(r)][i], want)
            << "member " << r << ", element " << i << ", chunk " << chunk;
      }
    }
  }
}

}  // namespace
}  // namespace train::internal::tcp_test
