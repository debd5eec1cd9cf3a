// train-bench: libtrain's benchmarks, one subcommand each.
//
//   train-bench data --file F.h5 [--batch 256] [--epochs 2] [--reps 5]
//   train-bench optim [--reps 5] [--python /usr/bin/python3]
//   train-bench optim --device cuda [--reps 20] [--python python3]
//   train-bench checkpoint [--bytes 1G] [--dir PATH] [--iters 3]
//   trainctl run --nproc N -- train-bench allreduce [--sizes 4K:256M] [--check] ...
//   trainctl run --nproc N -- train-bench buckets [--params 25M] [--layers 64] ...
#include <cstdio>
#include <cstring>

#include "allreduce_bench.h"
#include "buckets_bench.h"
#include "checkpoint_bench.h"
#include "data_bench.h"
#include "optim_bench.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "data") == 0)
    return bench::RunDataBench(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "optim") == 0)
    return bench::RunOptimBench(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "checkpoint") == 0)
    return bench::RunCheckpointBench(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "allreduce") == 0)
    return bench::RunAllreduceBench(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "buckets") == 0)
    return bench::RunBucketsBench(argc - 1, argv + 1);
  std::fprintf(
      stderr,
      "usage: train-bench data --file F.h5 [--batch 256] [--epochs 2] [--reps 5]\n"
      "       train-bench optim [--reps 5] [--python /usr/bin/python3]\n"
      "       train-bench optim --device cuda [--reps 20] [--python python3]\n"
      "       train-bench checkpoint [--bytes 1G] [--dir PATH] [--iters 3]\n"
      "       trainctl run --nproc N -- train-bench allreduce [--sizes 4K:256M] "
      "[--check] ...\n"
      "       trainctl run --nproc N -- train-bench buckets [--params 25M] [--layers 64] ...\n"
      "  data: shuffled and sequential batch reads of an HDF5 file, and the sampler\n"
      "  optim: fused AdamW against STREAM triad (or, with --device cuda, a device copy)\n"
      "         and torch.optim.AdamW\n"
      "  checkpoint: sync/async save and load against dd conv=fsync and a sequential read\n"
      "  allreduce: the communicator's all-reduce over a sweep of sizes, with the memory\n"
      "             bound (bench/allreduce.sh sets MPI and Gloo beside it)\n"
      "  buckets: gradient bucketing's overlap of all-reduces with a synthetic backward\n");
  return 2;
}
