// Every op of the TCP group x dtype x size x group size 1-8, in place and out of place, against
// a scalar reference; members are threads over loopback. Sizes up to 1023 elements take the
// latency algorithms, (1 << 20) + 3 the ring and chain ones. Inputs are small integers, so that
// every dtype holds every partial result exactly and results compare bitwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <sstream>

#include "tcp_test_support.h"

namespace train::internal::tcp_test {
namespace {

constexpr std::uint64_t kLarge = (1 << 20) + 3;
const std::vector<std::uint64_t> kSizes = {0, 1, 7, 1023, kLarge};
constexpr std::chrono::minutes kOpTimeout{2};

struct Case {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  DType dtype = DType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  std::uint64_t count = 0;  // elements per member (allgather: in; reduce-scatter: out)
  bool in_place = false;
  int root = 0;

  std::string Name() const {
    std::ostringstream name;
    name << CollectiveKindName(kind) << " " << ReduceOpName(op) << " " << DTypeName(dtype) << " x "
         << count << (in_place ? " in place" : " out of place") << " root " << root;
    return name.str();
  }
};

// The bytes of small integers in one dtype, looked up rather than converted per element.
class Encoder {
 public:
  explicit Encoder(DType dtype) : dtype_(dtype), size_(DTypeSize(dtype)) {
    table_.resize(static_cast<std::size_t>(2 * kRange + 1) * size_);
    for (int v = -kRange; v <= kRange; ++v) SetIntegerElement(dtype, Slot(v), 0, v);
  }
  void Put(std::int64_t value, std::byte* element) const {
    if (dtype_ == DType::kUInt8) value = static_cast<std::int64_t>(value & 0xff);
    std::memcpy(element, Slot(value), size_);
  }

 private:
  static constexpr int kRange = 512;
  std::byte* Slot(std::int64_t value) const {
    return const_cast<std::byte*>(table_.data()) + static_cast<std::size_t>(value + kRange) * size_;
  }
  DType dtype_;
  std::size_t size_;
  std::vector<std::byte> table_;
};

// Inputs whose reduction over up to 8 members stays exact in every dtype.
std::int64_t Input(ReduceOp op, DType dtype, int member, std::uint64_t i) {
  const std::uint64_t m = static_cast<std::uint64_t>(member);
  const bool unsigned_type = dtype == DType::kUInt8;
  switch (op) {
    case ReduceOp::kProd: {
      static constexpr std::array<std::int64_t, 4> kSigned = {1, 2, -1, -2};
      static constexpr std::array<std::int64_t, 4> kUnsigned = {1, 2, 3, 1};
      return (unsigned_type ? kUnsigned : kSigned)[(i + 3 * m) % 4];
    }
    case ReduceOp::kMin:
    case ReduceOp::kMax:
      return unsigned_type ? static_cast<std::int64_t>((i * 31 + m * 17) % 256)
                           : static_cast<std::int64_t>((i * 31 + m * 17) % 201) - 100;
    default:
      return unsigned_type ? static_cast<std::int64_t>((i * 7 + m * 13) % 32)
                           : static_cast<std::int64_t>((i * 7 + m * 13) % 9) - 4;
  }
}

std::int64_t Combine(ReduceOp op, std::int64_t a, std::int64_t b) {
  switch (op) {
    case ReduceOp::kProd:
      return a * b;
    case ReduceOp::kMin:
      return std::min(a, b);
    case ReduceOp::kMax:
      return std::max(a, b);
    default:
      return a + b;
  }
}

// The large size (the ring) runs for every dtype with sum, and for one float and one integer
// dtype with the other ops: the reduction kernels have their own exhaustive tests.
bool LargeCase(ReduceOp op, DType dtype) {
  return op == ReduceOp::kSum || dtype == DType::kBFloat16 || dtype == DType::kInt32;
}

class TcpOpsTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    store_ = NewInMemoryStore();
    groups_ = CreateGroups(store_.get(), size());
  }

  int size() const { return GetParam(); }

  void Run(const Case& c) {
    SCOPED_TRACE(c.Name());
    const int n = size();
    const std::size_t element = DTypeSize(c.dtype);
    const std::uint64_t in_count = c.kind == CollectiveKind::kReduceScatter
                                       ? c.count * static_cast<std::uint64_t>(n)
                                       : c.count;
    const std::uint64_t out_count =
        c.kind == CollectiveKind::kAllGather ? c.count * static_cast<std::uint64_t>(n) : c.count;
    const Encoder encode(c.dtype);

    std::vector<std::vector<std::byte>> inputs(static_cast<std::size_t>(n));
    std::vector<std::vector<std::byte>> outputs(static_cast<std::size_t>(n));
    for (int m = 0; m < n; ++m) {
      auto& in = inputs[static_cast<std::size_t>(m)];
      in.resize(in_count * element);
      for (std::uint64_t i = 0; i < in_count; ++i) {
        encode.Put(Input(c.op, c.dtype, m, i), in.data() + i * element);
      }
      outputs[static_cast<std::size_t>(m)].assign(out_count * element, std::byte{0xcd});
    }
    const std::vector<std::vector<std::byte>> expected = Expected(c, encode, out_count);

    std::vector<Status> statuses(static_cast<std::size_t>(n));
    std::vector<const std::byte*> results(static_cast<std::size_t>(n));
    OnThreads(n, [&](int m) {
      auto& in = inputs[static_cast<std::size_t>(m)];
      auto& out = outputs[static_cast<std::size_t>(m)];
      PeerGroup& group = *groups_[static_cast<std::size_t>(m)];
      OpContext ctx = MakeContext(c.kind, c.dtype, c.count, kOpTimeout);
      ctx.op.reduce = c.op;
      ctx.op.root = c.root;
      const std::size_t block = c.count * element;
      Status status;
      const std::byte* result = out.data();
      switch (c.kind) {
        case CollectiveKind::kAllReduce:
          if (c.in_place) {
            std::copy(in.begin(), in.end(), out.begin());
            status = group.AllReduce(out.data(), out.data(), c.count, c.dtype, c.op, ctx);
          } else {
            status = group.AllReduce(in.data(), out.data(), c.count, c.dtype, c.op, ctx);
          }
          break;
        case CollectiveKind::kReduceScatter:
          if (c.in_place) {
            // The result lands in this member's own block of the input.
            std::byte* own = in.data() + block * static_cast<std::size_t>(m);
            status = group.ReduceScatter(in.data(), own, c.count, c.dtype, c.op, ctx);
            result = own;
          } else {
            status = group.ReduceScatter(in.data(), out.data(), c.count, c.dtype, c.op, ctx);
          }
          break;
        case CollectiveKind::kAllGather:
          if (c.in_place) {
            std::byte* own = out.data() + block * static_cast<std::size_t>(m);
            std::copy(in.begin(), in.end(), own);
            status = group.AllGather(own, out.data(), block, ctx);
          } else {
            status = group.AllGather(in.data(), out.data(), block, ctx);
          }
          break;
        case CollectiveKind::kBroadcast:
          std::copy(in.begin(), in.end(), out.begin());
          status = group.Broadcast(out.data(), block, c.root, ctx);
          break;
        case CollectiveKind::kBarrier:
          status = group.Barrier(ctx);
          break;
      }
      statuses[static_cast<std::size_t>(m)] = status;
      results[static_cast<std::size_t>(m)] = result;
    });

    for (int m = 0; m < n; ++m) {
      ASSERT_TRUE(statuses[static_cast<std::size_t>(m)].ok())
          << "member " << m << ": " << statuses[static_cast<std::size_t>(m)];
      const auto& want = expected[static_cast<std::size_t>(m)];
      const std::byte* got = results[static_cast<std::size_t>(m)];
      // memcmp takes no null pointer, even for zero bytes (a zero-count op has no buffer).
      if (want.empty() || std::memcmp(got, want.data(), want.size()) == 0) continue;
      std::uint64_t i = 0;
      while (std::memcmp(got + i * element, want.data() + i * element, element) == 0) ++i;
      FAIL() << "member " << m << ", element " << i << " of " << out_count << ": got "
             << GetElement(c.dtype, got, i) << ", want " << GetElement(c.dtype, want.data(), i);
    }
  }

  // Each member's expected output, from the same integers through int64 arithmetic.
  std::vector<std::vector<std::byte>> Expected(const Case& c, const Encoder& encode,
                                               std::uint64_t out_count) const {
    const int n = size();
    const std::size_t element = DTypeSize(c.dtype);
    std::vector<std::vector<std::byte>> expected(static_cast<std::size_t>(n));
    auto reduced = [&](std::uint64_t i) {
      std::int64_t value = Input(c.op, c.dtype, 0, i);
      for (int m = 1; m < n; ++m) value = Combine(c.op, value, Input(c.op, c.dtype, m, i));
      return value;
    };
    for (int r = 0; r < n; ++r) {
      auto& want = expected[static_cast<std::size_t>(r)];
      if (c.kind == CollectiveKind::kAllReduce && r > 0) {  // the same for every member
        want = expected[0];
        continue;
      }
      want.resize(out_count * element);
      for (std::uint64_t i = 0; i < out_count; ++i) {
        std::int64_t value = 0;
        switch (c.kind) {
          case CollectiveKind::kAllReduce:
            value = reduced(i);
            break;
          case CollectiveKind::kReduceScatter:
            value = reduced(static_cast<std::uint64_t>(r) * c.count + i);
            break;
          case CollectiveKind::kAllGather:
            value = Input(c.op, c.dtype, static_cast<int>(i / c.count), i % c.count);
            break;
          default:
            value = Input(c.op, c.dtype, c.root, i);
            break;
        }
        encode.Put(value, want.data() + i * element);
      }
    }
    return expected;
  }

  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<PeerGroup>> groups_;
};

TEST_P(TcpOpsTest, AllReduceEveryOpDtypeAndSize) {
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kProd}) {
    for (DType dtype : kCollectiveDTypes) {
      for (std::uint64_t count : kSizes) {
        if (count == kLarge && !LargeCase(op, dtype)) continue;
        for (bool in_place : {false, true}) {
          Run({CollectiveKind::kAllReduce, dtype, op, count, in_place});
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_P(TcpOpsTest, ReduceScatterEveryOpDtypeAndSize) {
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kProd}) {
    for (DType dtype : kCollectiveDTypes) {
      for (std::uint64_t total : kSizes) {
        if (total == kLarge && !LargeCase(op, dtype)) continue;
        // `total` elements in all, spread over the blocks.
        const std::uint64_t count =
            (total + static_cast<std::uint64_t>(size()) - 1) / static_cast<std::uint64_t>(size());
        for (bool in_place : {false, true}) {
          Run({CollectiveKind::kReduceScatter, dtype, op, count, in_place});
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_P(TcpOpsTest, AllGatherEveryDtypeAndSize) {
  for (DType dtype : kCollectiveDTypes) {
    for (std::uint64_t total : kSizes) {
      const std::uint64_t count =
          (total + static_cast<std::uint64_t>(size()) - 1) / static_cast<std::uint64_t>(size());
      for (bool in_place : {false, true}) {
        Run({CollectiveKind::kAllGather, dtype, ReduceOp::kSum, count, in_place});
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(TcpOpsTest, BroadcastEveryDtypeSizeAndRoot) {
  for (DType dtype : kCollectiveDTypes) {
    for (std::uint64_t count : kSizes) {
      Case c{CollectiveKind::kBroadcast, dtype, ReduceOp::kSum, count, true};
      c.root = static_cast<int>(count % static_cast<std::uint64_t>(size()));
      Run(c);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(TcpOpsTest, BarrierCompletesRepeatedly) {
  for (int i = 0; i < 20; ++i) {
    Run({CollectiveKind::kBarrier, DType::kFloat32, ReduceOp::kSum, 0, false});
    if (HasFatalFailure()) return;
  }
}

TEST_P(TcpOpsTest, AvgIsRefusedForTheCommunicatorToSplit) {
  std::vector<float> data(4, 1.0f);
  OpContext ctx = MakeContext(CollectiveKind::kAllReduce, DType::kFloat32, 4, kOpTimeout);
  const Status status = groups_[0]->AllReduce(data.data(), data.data(), data.size(),
                                              DType::kFloat32, ReduceOp::kAvg, ctx);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
}

INSTANTIATE_TEST_SUITE_P(GroupSizes, TcpOpsTest, ::testing::Range(1, 9),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "Members" + std::to_string(param.param);
                         });

}  // namespace
}  // namespace train::internal::tcp_test
