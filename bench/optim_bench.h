// train-bench optim: the fused CPU AdamW against memory bandwidth (a STREAM triad measured in
// the same run) and against torch.optim.AdamW.
#ifndef BENCH_OPTIM_BENCH_H_
#define BENCH_OPTIM_BENCH_H_

namespace bench {

// argv[0] is "optim"; returns the process exit code.
int RunOptimBench(int argc, char** argv);

}  // namespace bench

#endif  // BENCH_OPTIM_BENCH_H_
