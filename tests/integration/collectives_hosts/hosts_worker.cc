// The worker of the multi-host collectives test: every op over every dtype and several sizes,
// checked element by element against values computed here, then on a communicator Split
// across the hosts. With --kill-rank K instead, rank K dies while the others are in an
// all-reduce, and they report how long it took to fail and why (a restarted group exits 0).
//
//   hosts_worker [--kill-rank K]
//
// Prints "rank R: describe: ..." (Communicator::Describe), then "rank R: N checks passed"
// (exit 0; 1 on a wrong element or a failed op), or with --kill-rank, on each survivor,
// "rank R: failed after T ms: STATUS" (exit 3).
#include <signal.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "element_values.h"
#include "train/communicator.h"
#include "train/worker.h"

namespace {

using train::DType;
using train::ReduceOp;
using train::testing::GetElement;
using train::testing::SetElement;

// Small integers, exact in every dtype (and their sums over 4 ranks, even in uint8 and bf16).
double Value(int rank, std::uint64_t i) { return static_cast<double>((rank * 3 + i) % 5 + 1); }

bool IsInteger(DType dtype) {
  return dtype == DType::kInt32 || dtype == DType::kInt64 || dtype == DType::kUInt8;
}

// The reduction over `ranks` of element i.
double Expected(ReduceOp op, DType dtype, const std::vector<int>& ranks, std::uint64_t i) {
  double sum = 0, low = 1e9, high = -1e9;
  for (int r : ranks) {
    const double v = Value(r, i);
    sum += v;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  switch (op) {
    case ReduceOp::kSum:
      return sum;
    case ReduceOp::kMin:
      return low;
    case ReduceOp::kMax:
      return high;
    case ReduceOp::kAvg: {
      const double avg = sum / static_cast<double>(ranks.size());
      return IsInteger(dtype) ? std::floor(avg) : avg;
    }
    default:
      return NAN;
  }
}

class Checker {
 public:
  Checker(train::Communicator* comm) : comm_(comm), rank_(comm->rank()) {}

  // Stops at the first wrong element, naming it.
  bool Check(const std::string& what, DType dtype, const void* data, std::uint64_t i,
             double expected) {
    ++checks_;
    const double got = GetElement(dtype, data, i);
    if (got == expected) return true;
    std::printf("rank %d: WRONG %s %s element %llu: got %g, expected %g\n", rank_, what.c_str(),
                std::string(train::DTypeName(dtype)).c_str(), static_cast<unsigned long long>(i),
                got, expected);
    return false;
  }

  bool Ok(const train::Status& status, const std::string& what) {
    if (status.ok()) return true;
    std::printf("rank %d: %s failed: %s\n", rank_, what.c_str(), status.ToString().c_str());
    return false;
  }

  // Every op on `comm_` for one dtype and size; `members` are the world ranks of comm_'s ranks.
  bool RunAll(DType dtype, std::uint64_t n, const std::vector<int>& members, int world_rank) {
    const int size = comm_->world_size();
    const std::size_t es = train::DTypeSize(dtype);
    std::vector<unsigned char> in(n * es + 1), out(n * es + 1);
    for (std::uint64_t i = 0; i < n; ++i) SetElement(dtype, in.data(), i, Value(world_rank, i));
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMin, ReduceOp::kMax}) {
      const std::string what = "allreduce " + std::string(train::ReduceOpName(op));
      if (!Ok(comm_->AllReduce({in.data(), dtype, n}, {out.data(), dtype, n}, op)->Wait(), what)) {
        return false;
      }
      for (std::uint64_t i = 0; i < n; ++i) {
        if (!Check(what, dtype, out.data(), i, Expected(op, dtype, members, i))) return false;
      }
    }
    // Reduce-scatter: block b of rank r's input is Value(r, b * n + i).
    std::vector<unsigned char> blocks(n * es * size + 1), mine(n * es + 1);
    for (std::uint64_t i = 0; i < n * size; ++i)
      SetElement(dtype, blocks.data(), i, Value(world_rank, i));
    if (!Ok(comm_
                ->ReduceScatter({blocks.data(), dtype, n * size}, {mine.data(), dtype, n},
                                ReduceOp::kSum)
                ->Wait(),
            "reducescatter")) {
      return false;
    }
    const std::uint64_t base = static_cast<std::uint64_t>(comm_->rank()) * n;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!Check("reducescatter", dtype, mine.data(), i,
                 Expected(ReduceOp::kSum, dtype, members, base + i))) {
        return false;
      }
    }
    // All-gather of each rank's input.
    if (!Ok(comm_->AllGather({in.data(), dtype, n}, {blocks.data(), dtype, n * size})->Wait(),
            "allgather")) {
      return false;
    }
    for (int r = 0; r < size; ++r) {
      for (std::uint64_t i = 0; i < n; ++i) {
        if (!Check("allgather", dtype, blocks.data(), r * n + i, Value(members[r], i)))
          return false;
      }
    }
    // Broadcast from the last rank (on another host than rank 0).
    std::memcpy(out.data(), in.data(), n * es);
    if (!Ok(comm_->Broadcast({out.data(), dtype, n}, size - 1)->Wait(), "broadcast")) return false;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!Check("broadcast", dtype, out.data(), i, Value(members[size - 1], i))) return false;
    }
    return Ok(comm_->Barrier()->Wait(), "barrier");
  }

  long long checks() const { return checks_; }

 private:
  train::Communicator* comm_;
  int rank_;
  long long checks_ = 0;
};

int KillPhase(train::Communicator* comm, int kill_rank) {
  const int rank = comm->rank();
  // The agents stop the survivors (SIGTERM, then SIGKILL after a grace) to restart the group:
  // they ignore SIGTERM (every thread) so as to report first.
  std::signal(SIGTERM, SIG_IGN);
  if (!comm->Barrier()->Wait().ok()) return 1;
  std::vector<float> data(1 << 20, 1.0f);
  if (rank == kill_rank) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    raise(SIGKILL);
  }
  const auto start = std::chrono::steady_clock::now();
  const train::Status status =
      comm->AllReduce({data.data(), DType::kFloat32, data.size()}, ReduceOp::kSum)->Wait();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::printf("rank %d: failed after %lld ms: %s\n", rank, static_cast<long long>(ms),
              status.ToString().c_str());
  std::fflush(stdout);
  return status.ok() ? 1 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  int kill_rank = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--kill-rank" && i + 1 < argc) {
      kill_rank = std::stoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: hosts_worker [--kill-rank K]\n");
      return 2;
    }
  }
  auto worker = train::Worker::Init();
  TRAIN_CHECK_OK(worker.status());
  auto created = train::Communicator::Create(**worker);
  TRAIN_CHECK_OK(created.status());
  train::Communicator* comm = created->get();
  const int rank = comm->rank();
  std::printf("rank %d: describe: %s\n", rank, comm->Describe().c_str());
  std::fflush(stdout);
  if (kill_rank >= 0) {
    // The group the agents start again after the kill has nothing left to do.
    if ((*worker)->env().restart_count > 0) return 0;
    return KillPhase(comm, kill_rank);
  }

  Checker world(comm);
  std::vector<int> everyone;
  for (int r = 0; r < comm->world_size(); ++r) everyone.push_back(r);
  const DType dtypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                          DType::kInt32,   DType::kInt64,   DType::kUInt8};
  // 600001 elements: several pipelined chunks in shared memory, the ring between hosts.
  const std::uint64_t sizes[] = {0, 1, 7, 4099, 600001};
  for (DType dtype : dtypes) {
    for (std::uint64_t n : sizes) {
      if (!world.RunAll(dtype, n, everyone, rank)) return 1;
    }
  }
  // Ranks of one parity: one rank per host, so TCP only.
  auto child = comm->Split(rank % 2, rank);
  TRAIN_CHECK_OK(child.status());
  std::vector<int> members;
  for (int r = rank % 2; r < comm->world_size(); r += 2) members.push_back(r);
  std::printf("rank %d: split: %s\n", rank, (*child)->Describe().c_str());
  Checker split(child->get());
  for (std::uint64_t n : sizes) {
    if (!split.RunAll(DType::kFloat32, n, members, rank)) return 1;
  }
  std::printf("rank %d: %lld checks passed\n", rank, world.checks() + split.checks());
  return 0;
}
