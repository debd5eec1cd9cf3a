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
#include <string>

#include "allreduce_bench.h"
#include "buckets_bench.h"
#include "checkpoint_bench.h"
#include "cli.h"
#include "data_bench.h"
#include "optim_bench.h"

namespace {

struct Subcommand {
  const char* name;
  const char* description;
  int (*run)(int argc, char** argv);  // argv[0] is the name
};

constexpr Subcommand kSubcommands[] = {
    {"data", "shuffled and sequential batch reads of an HDF5 file, and the sampler",
     bench::RunDataBench},
    {"optim",
     "fused AdamW against STREAM triad (or, with --device cuda, a device copy) and "
     "torch.optim.AdamW",
     bench::RunOptimBench},
    {"checkpoint", "sync/async save and load against dd conv=fsync and a sequential read",
     bench::RunCheckpointBench},
    {"allreduce",
     "the communicator's all-reduce over a sweep of sizes, with the memory bound "
     "(bench/allreduce.sh sets MPI and Gloo beside it)",
     bench::RunAllreduceBench},
    {"buckets", "gradient bucketing's overlap of all-reduces with a synthetic backward",
     bench::RunBucketsBench},
};

}  // namespace

int main(int argc, char** argv) {
  for (const Subcommand& subcommand : kSubcommands) {
    if (argc >= 2 && std::strcmp(argv[1], subcommand.name) == 0) {
      return subcommand.run(argc - 1, argv + 1);
    }
  }
  // No subcommand first: --help lists them, anything else is bad usage.
  CLI::App app(
      "libtrain's benchmarks, one subcommand each, with flags of its own: train-bench\n"
      "SUBCOMMAND --help describes them and their defaults.",
      "train-bench");
  std::string footer = "\nSubcommands:\n";
  for (const Subcommand& subcommand : kSubcommands) {
    footer += "  " + std::string(subcommand.name) +
              std::string(12 - std::strlen(subcommand.name), ' ') + subcommand.description + "\n";
  }
  app.footer(footer + R"(
Usage:
  train-bench data --file F.h5 [--batch 256] [--epochs 2] [--reps 5]
  train-bench optim [--reps 5] [--python /usr/bin/python3]
  train-bench optim --device cuda [--reps 20] [--python python3]
  train-bench checkpoint [--bytes 1G] [--dir PATH] [--iters 3]
  trainctl run --nproc N -- train-bench allreduce [--sizes 4K:256M] [--check] ...
  trainctl run --nproc N -- train-bench buckets [--params 25M] [--layers 64] ...)");
  if (auto exit = bench::ParseCommandLine(app, argc, argv)) return *exit;
  std::fputs(app.help().c_str(), stderr);  // no subcommand at all
  return bench::kExitUsage;
}
