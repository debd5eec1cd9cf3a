// Every op x dtype x size against the reference, on worlds of 1-8 ranks on one host and on
// several (host ids make ranks of this machine talk TCP, as on separate hosts).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "rank_threads.h"
#include "reference.h"

namespace train::testing {
namespace {

const DType kDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                         DType::kInt32,   DType::kInt64,   DType::kUInt8};
const ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMin, ReduceOp::kMax,
                         ReduceOp::kProd};
const std::uint64_t kSmallSizes[] = {0, 1, 7, 1023};
constexpr std::uint64_t kLarge = (1u << 20) + 3;

struct Layout {
  std::string name;
  std::vector<std::string> hosts;  // host id per rank; "" detects (one host)
};

std::vector<double> RankInput(int rank, std::uint64_t count, ReduceOp op) {
  std::vector<double> values(count);
  for (std::uint64_t i = 0; i < count; ++i) values[i] = InputValue(rank, i, op);
  return values;
}

std::string What(std::string_view op, DType dtype, ReduceOp reduce, std::uint64_t count, int rank) {
  return std::string(op) + " " + std::string(DTypeName(dtype)) + " " +
         std::string(ReduceOpName(reduce)) + " x" + std::to_string(count) + " on rank " +
         std::to_string(rank);
}

void CheckAllReduce(Communicator& comm, DType dtype, ReduceOp op, std::uint64_t count,
                    bool in_place) {
  const int rank = comm.rank();
  auto in = Encode(RankInput(rank, count, op), dtype);
  std::vector<std::uint8_t> out(in.size(), 0xee);
  auto& result = in_place ? in : out;
  Status status = comm.AllReduce(View(in, dtype, count), View(result, dtype, count), op)->Wait();
  ASSERT_TRUE(status.ok()) << What("allreduce", dtype, op, count, rank) << ": " << status;
  for (std::uint64_t i = 0; i < count; ++i) {
    const double want = Expected(comm.world_size(), i, op, dtype);
    ASSERT_EQ(Decode(result, i, dtype), want)
        << What("allreduce", dtype, op, count, rank) << " element " << i;
  }
}

void CheckReduceScatter(Communicator& comm, DType dtype, ReduceOp op, std::uint64_t count) {
  const int rank = comm.rank();
  const int n = comm.world_size();
  auto in = Encode(RankInput(rank, count * n, op), dtype);
  std::vector<std::uint8_t> out(count * DTypeSize(dtype), 0xee);
  Status status =
      comm.ReduceScatter(View(in, dtype, count * n), View(out, dtype, count), op)->Wait();
  ASSERT_TRUE(status.ok()) << What("reducescatter", dtype, op, count, rank) << ": " << status;
  for (std::uint64_t i = 0; i < count; ++i) {
    ASSERT_EQ(Decode(out, i, dtype), Expected(n, count * rank + i, op, dtype))
        << What("reducescatter", dtype, op, count, rank) << " element " << i;
  }
}

void CheckAllGather(Communicator& comm, DType dtype, std::uint64_t count, bool in_place) {
  const int rank = comm.rank();
  const int n = comm.world_size();
  const std::size_t block = count * DTypeSize(dtype);
  auto mine = Encode(RankInput(rank, count, ReduceOp::kSum), dtype);
  std::vector<std::uint8_t> out(block * n, 0xee);
  TensorView in = View(mine, dtype, count);
  if (in_place) {
    if (block > 0) std::memcpy(out.data() + block * rank, mine.data(), block);
    in.data = out.data() + block * rank;
  }
  Status status = comm.AllGather(in, View(out, dtype, count * n))->Wait();
  ASSERT_TRUE(status.ok()) << What("allgather", dtype, ReduceOp::kSum, count, rank) << ": "
                           << status;
  for (int r = 0; r < n; ++r) {
    for (std::uint64_t i = 0; i < count; ++i) {
      ASSERT_EQ(Decode(out, r * count + i, dtype), InputValue(r, i, ReduceOp::kSum))
          << What("allgather", dtype, ReduceOp::kSum, count, rank) << " block " << r;
    }
  }
}

void CheckBroadcast(Communicator& comm, DType dtype, std::uint64_t count, int root) {
  const int rank = comm.rank();
  auto data = Encode(RankInput(rank, count, ReduceOp::kSum), dtype);
  Status status = comm.Broadcast(View(data, dtype, count), root)->Wait();
  ASSERT_TRUE(status.ok()) << What("broadcast", dtype, ReduceOp::kSum, count, rank) << ": "
                           << status;
  for (std::uint64_t i = 0; i < count; ++i) {
    ASSERT_EQ(Decode(data, i, dtype), InputValue(root, i, ReduceOp::kSum))
        << What("broadcast", dtype, ReduceOp::kSum, count, rank) << " element " << i;
  }
}

void RunEveryOp(Communicator& comm) {
  bool in_place = false;
  for (DType dtype : kDTypes) {
    for (std::uint64_t count : kSmallSizes) {
      for (ReduceOp op : kOps) {
        CheckAllReduce(comm, dtype, op, count, in_place = !in_place);
        CheckReduceScatter(comm, dtype, op, count);
      }
      CheckAllGather(comm, dtype, count, in_place);
      CheckBroadcast(comm, dtype, count, comm.world_size() - 1);
    }
    CheckAllReduce(comm, dtype, ReduceOp::kSum, kLarge, in_place);
  }
  for (ReduceOp op : kOps) CheckAllReduce(comm, DType::kFloat32, op, kLarge, false);
  CheckReduceScatter(comm, DType::kFloat32, ReduceOp::kSum, kLarge / 4);
  CheckAllGather(comm, DType::kFloat32, kLarge / 4, true);
  CheckBroadcast(comm, DType::kBFloat16, kLarge, 0);
  EXPECT_TRUE(comm.Barrier()->Wait().ok());
}

class EveryOp : public ::testing::TestWithParam<Layout> {};

TEST_P(EveryOp, MatchesTheReference) {
  const Layout& layout = GetParam();
  const int size = static_cast<int>(layout.hosts.size());
  World world = MakeWorld(size, {}, [&](int rank) { return layout.hosts[rank]; });
  ASSERT_EQ(world.comms.size(), static_cast<std::size_t>(size));
  OnEveryRank(size, [&](int rank) { RunEveryOp(*world.comms[rank]); });
}

std::vector<Layout> Layouts() {
  std::vector<Layout> layouts;
  for (int n = 1; n <= 8; ++n) {
    layouts.push_back({"OneHost" + std::to_string(n), std::vector<std::string>(n, "")});
  }
  layouts.push_back({"TwoHostsOfTwo", {"a", "a", "b", "b"}});
  layouts.push_back({"ThreeHostsOfTwo", {"a", "b", "c", "a", "b", "c"}});
  layouts.push_back({"UnevenHosts", {"a", "a", "b"}});
  layouts.push_back({"ThreeHostsOfOne", {"a", "b", "c"}});
  return layouts;
}

INSTANTIATE_TEST_SUITE_P(Worlds, EveryOp, ::testing::ValuesIn(Layouts()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace train::testing
