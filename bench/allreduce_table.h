// The all-reduce benchmarks' shared parts: the size sweep, the flags every peer takes, and the
// nccl-tests-style table they all print (so that bench/allreduce.sh can set them side by side).
#ifndef BENCH_ALLREDUCE_TABLE_H_
#define BENCH_ALLREDUCE_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

// "4K:256M" (doubling from 4 KiB to 256 MiB), "4K,64M,1000" (a list); K, M, G are powers of
// 1024. False with `error` set on anything else.
bool ParseSizes(const std::string& spec, std::vector<std::uint64_t>* sizes, std::string* error);

// busbw = algbw × 2(n−1)/n, as nccl-tests defines it for all-reduce.
double AllreduceBusFactor(int world_size);

struct AllreduceTableSetup {
  std::string program;  // "train-bench allreduce", "bench_mpi_allreduce", ...
  std::string backend;  // "cpu", "Open MPI 4.1.4", ...
  int world_size = 1;
  int iters = 20;
  int warmup = 5;
  bool deterministic = false;
  // Copy bandwidth (GB/s counting read and write) for the memory bound; 0: unknown.
  double copy_gbps = 0;
  std::string copy_source;  // how it was obtained ("measured on rank 0, 2 threads")
};

struct AllreduceRow {
  std::uint64_t bytes = 0;  // per rank
  std::uint64_t count = 0;
  std::string type;
  std::string redop;
  double median_seconds = 0;  // of each iteration's maximum over ranks
  std::int64_t wrong = -1;    // -1: not checked
};

void PrintAllreduceHeader(const AllreduceTableSetup& setup);
void PrintAllreduceRow(const AllreduceTableSetup& setup, const AllreduceRow& row);

}  // namespace bench

#endif  // BENCH_ALLREDUCE_TABLE_H_
