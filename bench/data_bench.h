// train-bench data: shuffled batches from an HDF5 file against sequential reads of it, and the
// sampler that orders them.
#ifndef BENCH_DATA_BENCH_H_
#define BENCH_DATA_BENCH_H_

namespace bench {

// argv[0] is "data"; returns the process exit code.
int RunDataBench(int argc, char** argv);

}  // namespace bench

#endif  // BENCH_DATA_BENCH_H_
