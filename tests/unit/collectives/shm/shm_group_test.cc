// The shared-memory group against a scalar reference: every op x dtype x size x group size,
// in place and out of place, with members as threads and as processes; results that do not
// depend on the chunk size or the message size.
#include "cpu/shm_group.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../../../sanitizer_build.h"
#include "element_values.h"
#include "shm_test_util.h"

namespace train::testing {
namespace {

using Bytes = std::vector<unsigned char>;

// --- elements: exact small values, so the reference is exact in every dtype ------------------

std::uint64_t Mix(int member, std::uint64_t i) {
  std::uint64_t h = (static_cast<std::uint64_t>(member) + 1) * 0x9e3779b97f4a7c15ull ^
                    (i + 1) * 0xbf58476d1ce4e5b9ull;
  h ^= h >> 31;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 29);
}

// Member m's element i for reduction `op`: sums of up to 8 stay exact in every dtype, and so do
// products in float32 and wider (products are rounded once in float16 and bfloat16).
double InputValue(DType dtype, ReduceOp op, int member, std::uint64_t i) {
  const std::uint64_t h = Mix(member, i);
  switch (dtype) {
    case DType::kUInt8:
      return static_cast<double>(h % 4);
    case DType::kInt32:
    case DType::kInt64:
      return static_cast<double>(static_cast<int>(h % 17) - 8);
    default:
      if (op == ReduceOp::kProd) {
        static constexpr double kFactors[] = {-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2};
        return kFactors[h % 8];
      }
      return (static_cast<int>(h % 17) - 8) * 0.25;
  }
}

// For large messages (sum and max only), member m's element i is a(i) + b(m), so that the
// reference costs O(1) per element; b differs for every member, so a member's data used
// twice or not at all still shows in the sum.
double PartOfElement(DType dtype, std::uint64_t i) {
  const std::uint64_t h = (i * 0x9e3779b97f4a7c15ull) >> 40;
  if (dtype == DType::kUInt8) return static_cast<double>(h % 4);
  if (dtype == DType::kInt32 || dtype == DType::kInt64) return static_cast<double>(h % 9) - 4;
  return (static_cast<double>(h % 9) - 4) * 0.25;
}
double PartOfMember(DType dtype, int member) {
  if (dtype == DType::kUInt8) return member;
  if (dtype == DType::kInt32 || dtype == DType::kInt64) return member - 4;
  return member * 0.25 - 1;
}

struct Pattern {
  DType dtype;
  ReduceOp op;
  int size;
  bool separable;       // a(i) + b(m)
  double members_part;  // b reduced over members

  Pattern(DType dtype_in, ReduceOp op_in, int size_in, bool separable_in)
      : dtype(dtype_in), op(op_in), size(size_in), separable(separable_in) {
    members_part = PartOfMember(dtype, 0);
    for (int m = 1; m < size; ++m) {
      const double b = PartOfMember(dtype, m);
      members_part = op == ReduceOp::kSum ? members_part + b : std::max(members_part, b);
    }
  }

  double Input(int member, std::uint64_t i) const {
    return separable ? PartOfElement(dtype, i) + PartOfMember(dtype, member)
                     : InputValue(dtype, op, member, i);
  }
  double Reference(std::uint64_t i) const;
};

// The reference: element i reduced over members in order, in double (exact here), with uint8
// wrapping as it does.
double Pattern::Reference(std::uint64_t i) const {
  if (separable) {
    const double a = PartOfElement(dtype, i);
    return op == ReduceOp::kSum ? a * size + members_part : a + members_part;
  }
  double acc = InputValue(dtype, op, 0, i);
  for (int m = 1; m < size; ++m) {
    const double v = InputValue(dtype, op, m, i);
    switch (op) {
      case ReduceOp::kSum:
        acc += v;
        break;
      case ReduceOp::kProd:
        acc *= v;
        break;
      case ReduceOp::kMin:
        acc = std::min(acc, v);
        break;
      case ReduceOp::kMax:
        acc = std::max(acc, v);
        break;
      default:
        break;
    }
  }
  if (dtype == DType::kUInt8) acc = static_cast<double>(static_cast<std::uint64_t>(acc) & 0xff);
  return acc;
}

bool Close(DType dtype, double got, double want) {
  if (dtype == DType::kFloat16) return std::fabs(got - want) <= std::fabs(want) * 0x1p-11;
  if (dtype == DType::kBFloat16) return std::fabs(got - want) <= std::fabs(want) * 0x1p-8;
  if (dtype == DType::kFloat32) return got == static_cast<float>(want);
  return got == want;
}

std::string Name(DType dtype) { return std::string(DTypeName(dtype)); }
std::string Name(ReduceOp op) { return std::string(ReduceOpName(op)); }

// --- the matrix, as one member runs it ---------------------------------------------------

const DType kDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                         DType::kInt32,   DType::kInt64,   DType::kUInt8};
const std::uint64_t kSizes[] = {0, 1, 7, 1023, (1 << 20) + 3};

// A buffer reused across ops (allocating per op costs page faults and, with members as
// threads, TLB shootdowns): Get(n) returns n bytes poisoned with 0xcd followed by a 0xee
// sentinel that Intact(n) checks.
class Buffer {
 public:
  unsigned char* Get(std::size_t n) {
    if (bytes_.size() < n + 1) bytes_.resize(n + 1);
    std::memset(bytes_.data(), 0xcd, n);
    bytes_[n] = 0xee;
    return bytes_.data();
  }
  bool Intact(std::size_t n) const { return bytes_[n] == 0xee; }

 private:
  Bytes bytes_;
};

class Member {
 public:
  Member(int me, PeerGroup& group) : me_(me), n_(group.size()), group_(group) {}

  std::string RunMatrix() {
    for (DType dtype : kDTypes) {
      for (std::uint64_t size : kSizes) {
        const bool big = size > 100000;
        for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin, ReduceOp::kMax}) {
          if (big && op != ReduceOp::kSum && op != ReduceOp::kMax) continue;
          for (bool in_place : {false, true}) {
            if (big && in_place != (op == ReduceOp::kMax)) continue;
            Check(AllReduce(dtype, op, size, in_place));
            Check(ReduceScatter(dtype, op, big ? (size + n_ - 1) / n_ : size, in_place));
          }
        }
        for (bool in_place : {false, true}) {
          if (big && in_place != (dtype == DType::kFloat32)) continue;
          Check(AllGather(size * DTypeSize(dtype), in_place));
        }
        Check(Broadcast(size * DTypeSize(dtype), static_cast<int>(size % n_)));
        if (!big) Check(Broadcast(size * DTypeSize(dtype), n_ - 1));
      }
    }
    auto ctx = Context(CollectiveKind::kBarrier);
    const Status barrier = group_.Barrier(ctx);
    if (!barrier.ok()) Check("barrier: " + barrier.ToString());
    return failure_;
  }

 private:
  OpContext Context(CollectiveKind kind) {
    return MakeContext(kind, std::chrono::seconds(60), nullptr, ++seq_);
  }
  void Check(const std::string& failure) {
    if (failure_.empty()) failure_ = failure;
  }
  std::string Where(const std::string& op, DType dtype, std::uint64_t size) const {
    return op + " " + Name(dtype) + " x " + std::to_string(size) + ", member " +
           std::to_string(me_) + " of " + std::to_string(n_) + ": ";
  }

  std::string AllReduce(DType dtype, ReduceOp op, std::uint64_t count, bool in_place) {
    const std::size_t es = DTypeSize(dtype);
    const Pattern pattern{dtype, op, n_, count > 100000};
    unsigned char* in = a_.Get(count * es);
    unsigned char* out = b_.Get(count * es);
    for (std::uint64_t i = 0; i < count; ++i) SetElement(dtype, in, i, pattern.Input(me_, i));
    void* dst = in_place ? in : out;
    auto ctx = Context(CollectiveKind::kAllReduce);
    const Status s = group_.AllReduce(in, dst, count, dtype, op, ctx);
    const std::string where =
        Where("allreduce " + Name(op) + (in_place ? " in place" : ""), dtype, count);
    if (!s.ok()) return where + s.ToString();
    for (std::uint64_t i = 0; i < count; ++i) {
      const double got = GetElement(dtype, dst, i), want = pattern.Reference(i);
      if (!Close(dtype, got, want)) {
        return where + "element " + std::to_string(i) + " is " + std::to_string(got) + ", want " +
               std::to_string(want);
      }
    }
    if (!a_.Intact(count * es) || !b_.Intact(count * es)) return where + "wrote past the end";
    return "";
  }

  std::string ReduceScatter(DType dtype, ReduceOp op, std::uint64_t count, bool in_place) {
    const std::size_t es = DTypeSize(dtype);
    const Pattern pattern{dtype, op, n_, count * n_ > 100000};
    unsigned char* in = a_.Get(count * es * n_);
    unsigned char* out = b_.Get(count * es);
    for (std::uint64_t i = 0; i < count * n_; ++i) SetElement(dtype, in, i, pattern.Input(me_, i));
    void* dst = in_place ? in + me_ * count * es : out;
    auto ctx = Context(CollectiveKind::kReduceScatter);
    const Status s = group_.ReduceScatter(in, dst, count, dtype, op, ctx);
    const std::string where =
        Where("reducescatter " + Name(op) + (in_place ? " in place" : ""), dtype, count);
    if (!s.ok()) return where + s.ToString();
    for (std::uint64_t i = 0; i < count; ++i) {
      const double got = GetElement(dtype, dst, i), want = pattern.Reference(me_ * count + i);
      if (!Close(dtype, got, want)) {
        return where + "element " + std::to_string(i) + " is " + std::to_string(got) + ", want " +
               std::to_string(want);
      }
    }
    if (!a_.Intact(count * es * n_) || !b_.Intact(count * es)) {
      return where + "wrote past the end";
    }
    return "";
  }

  // Bytes that differ between members and along the message (period 251 * 256).
  static unsigned char Byte(int member, std::uint64_t i) {
    return static_cast<unsigned char>(i * 7 + (i / 251) + member * 37 + 1);
  }

  std::string AllGather(std::uint64_t bytes, bool in_place) {
    unsigned char* in = a_.Get(bytes);
    unsigned char* out = b_.Get(bytes * n_);
    for (std::uint64_t i = 0; i < bytes; ++i) in[i] = Byte(me_, i);
    const void* src = in;
    if (in_place) {
      std::memcpy(out + me_ * bytes, in, bytes);
      src = out + me_ * bytes;
    }
    auto ctx = Context(CollectiveKind::kAllGather);
    const Status s = group_.AllGather(src, out, bytes, ctx);
    const std::string where = "allgather " + std::to_string(bytes) + " bytes" +
                              (in_place ? " in place" : "") + ", member " + std::to_string(me_) +
                              " of " + std::to_string(n_) + ": ";
    if (!s.ok()) return where + s.ToString();
    for (int m = 0; m < n_; ++m) {
      for (std::uint64_t i = 0; i < bytes; ++i) {
        if (out[m * bytes + i] != Byte(m, i)) {
          return where + "byte " + std::to_string(i) + " of block " + std::to_string(m);
        }
      }
    }
    if (!b_.Intact(bytes * n_)) return where + "wrote past the end";
    return "";
  }

  std::string Broadcast(std::uint64_t bytes, int root) {
    unsigned char* data = a_.Get(bytes);
    if (me_ == root) {
      for (std::uint64_t i = 0; i < bytes; ++i) data[i] = Byte(root, i);
    }
    auto ctx = Context(CollectiveKind::kBroadcast);
    const Status s = group_.Broadcast(data, bytes, root, ctx);
    const std::string where = "broadcast " + std::to_string(bytes) + " bytes from " +
                              std::to_string(root) + ", member " + std::to_string(me_) + " of " +
                              std::to_string(n_) + ": ";
    if (!s.ok()) return where + s.ToString();
    for (std::uint64_t i = 0; i < bytes; ++i) {
      if (data[i] != Byte(root, i)) return where + "byte " + std::to_string(i);
    }
    if (!a_.Intact(bytes)) return where + "wrote past the end";
    return "";
  }

  int me_;
  int n_;
  PeerGroup& group_;
  std::uint64_t seq_ = 0;
  std::string failure_;
  Buffer a_, b_;
};

std::string RunMatrix(int member, PeerGroup& group) { return Member(member, group).RunMatrix(); }

class ShmGroupMatrixTest : public ::testing::TestWithParam<int> {};

TEST_P(ShmGroupMatrixTest, EveryOpDTypeAndSizeAsThreads) {
  GroupOptions options;
  options.size = GetParam();
  options.comm_rank_base = 3;
  const auto results = RunThreads(options, RunMatrix);
  for (int m = 0; m < options.size; ++m) EXPECT_EQ(results[m], "") << "member " << m;
}

TEST_P(ShmGroupMatrixTest, EveryOpDTypeAndSizeAsProcesses) {
  GroupOptions options;
  options.size = GetParam();
  // (At most 4 minutes in a sanitizer build: under ctest's 5.)
  const auto run =
      RunProcesses(options, RunMatrix, std::chrono::seconds(60) * std::min(kTestTimeScale, 4));
  for (int m = 0; m < options.size; ++m) EXPECT_EQ(run.results[m], "") << "member " << m;
  EXPECT_EQ(SegmentsOf(run.pids), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(GroupSizes, ShmGroupMatrixTest, ::testing::Range(1, 9),
                         [](const auto& test) { return "Size" + std::to_string(test.param); });

// --- determinism: chunking and message size do not change a bit -----------------------------

struct DeterminismRun {
  std::vector<Bytes> full;      // per member: allreduce of all `count` elements
  std::vector<Bytes> prefixes;  // per member: allreduce of the first 1000, then 70001
  std::vector<Bytes> scatter;   // per member: reducescatter of the same elements
};

DeterminismRun RunDeterminism(DType dtype, int size, std::size_t chunk_bytes, std::uint64_t count) {
  GroupOptions options;
  options.size = size;
  options.chunk_bytes = chunk_bytes;
  DeterminismRun run;
  run.full.resize(size);
  run.prefixes.resize(size);
  run.scatter.resize(size);
  const std::size_t es = DTypeSize(dtype);
  const auto results = RunThreads(options, [&](int me, PeerGroup& group) -> std::string {
    // Arbitrary values: sums round, so any change of order would show.
    std::mt19937_64 rng(100 + me);
    std::uniform_real_distribution<float> value(-1, 1);
    Bytes in(count * es);
    for (std::uint64_t i = 0; i < count; ++i) {
      const float v = value(rng);
      if (es == 4) {
        std::memcpy(in.data() + i * 4, &v, 4);
      } else {
        const auto b = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(v) >> 16);
        std::memcpy(in.data() + i * 2, &b, 2);
      }
    }
    std::uint64_t seq = 0;
    auto ctx = [&](CollectiveKind kind) {
      return MakeContext(kind, std::chrono::seconds(30), nullptr, ++seq);
    };
    Bytes& full = run.full[me];
    full.resize(count * es);
    auto c = ctx(CollectiveKind::kAllReduce);
    Status s = group.AllReduce(in.data(), full.data(), count, dtype, ReduceOp::kSum, c);
    if (!s.ok()) return s.ToString();
    for (std::uint64_t prefix : {1000, 70001}) {
      Bytes part(prefix * es);
      c = ctx(CollectiveKind::kAllReduce);
      s = group.AllReduce(in.data(), part.data(), prefix, dtype, ReduceOp::kSum, c);
      if (!s.ok()) return s.ToString();
      run.prefixes[me].insert(run.prefixes[me].end(), part.begin(), part.end());
    }
    const std::uint64_t block = count / size;
    run.scatter[me].resize(block * es);
    c = ctx(CollectiveKind::kReduceScatter);
    s = group.ReduceScatter(in.data(), run.scatter[me].data(), block, dtype, ReduceOp::kSum, c);
    return s.ok() ? "" : s.ToString();
  });
  for (int m = 0; m < size; ++m) EXPECT_EQ(results[m], "") << "member " << m;
  return run;
}

TEST(ShmGroupDeterminismTest, ResultsAreBitwiseEqualAcrossChunkAndMessageSizes) {
  for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
    for (int size : {3, 4}) {
      SCOPED_TRACE(Name(dtype) + ", " + std::to_string(size) + " members");
      const std::uint64_t count = 300000;
      const std::size_t es = DTypeSize(dtype);
      const auto reference = RunDeterminism(dtype, size, 0, count);
      // Every member got the same bits.
      for (int m = 1; m < size; ++m) ASSERT_EQ(reference.full[m], reference.full[0]);
      // A prefix of the message reduces to the prefix of the result (small path included).
      Bytes prefixes(reference.full[0].begin(), reference.full[0].begin() + 1000 * es);
      prefixes.insert(prefixes.end(), reference.full[0].begin(),
                      reference.full[0].begin() + 70001 * es);
      EXPECT_EQ(reference.prefixes[0], prefixes);
      // Reduce-scatter gives each member its block of the all-reduce.
      const std::uint64_t block = count / size;
      for (int m = 0; m < size; ++m) {
        EXPECT_TRUE(std::equal(reference.scatter[m].begin(), reference.scatter[m].end(),
                               reference.full[0].begin() + m * block * es))
            << "member " << m;
      }
      for (std::size_t chunk : {std::size_t{4096}, std::size_t{65536}}) {
        const auto run = RunDeterminism(dtype, size, chunk, count);
        for (int m = 0; m < size; ++m) {
          EXPECT_EQ(run.full[m], reference.full[0]) << "chunk " << chunk << ", member " << m;
          EXPECT_EQ(run.prefixes[m], prefixes) << "chunk " << chunk << ", member " << m;
          EXPECT_EQ(run.scatter[m], reference.scatter[m]) << "chunk " << chunk;
        }
      }
    }
  }
}

}  // namespace
}  // namespace train::testing
