// train-bench: libtrain's benchmarks, one subcommand each.
//
//   train-bench data --file F.h5 [--batch 256] [--epochs 2] [--reps 5]
//   train-bench optim [--reps 5] [--python /usr/bin/python3]
//   train-bench optim --device cuda [--reps 20] [--python python3]
//   train-bench checkpoint [--bytes 1G] [--dir PATH] [--iters 3]
#include <cstdio>
#include <cstring>

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
  std::fprintf(stderr,
               "usage: train-bench data --file F.h5 [--batch 256] [--epochs 2] [--reps 5]\n"
               "       train-bench optim [--reps 5] [--python /usr/bin/python3]\n"
               "       train-bench optim --device cuda [--reps 20] [--python python3]\n"
               "       train-bench checkpoint [--bytes 1G] [--dir PATH] [--iters 3]\n"
               "  data: shuffled and sequential batch reads of an HDF5 file, and the sampler\n"
               "  optim: fused AdamW against STREAM triad (or, with --device cuda, a device copy)\n"
               "         and torch.optim.AdamW\n"
               "  checkpoint: sync/async save and load against dd conv=fsync and a sequential read\n");
  return 2;
}
