// train-bench optim --device cuda: the CUDA fused AdamW against a device-to-device copy measured
// in the same run and against torch.optim.AdamW(fused=True) and (foreach=True); then LAMB.
#ifndef BENCH_OPTIM_BENCH_CUDA_H_
#define BENCH_OPTIM_BENCH_CUDA_H_

namespace bench {

// argv[0] is "optim", with "--device cuda" among the flags; returns the process exit code.
int RunOptimBenchCuda(int argc, char** argv);

}  // namespace bench

#endif  // BENCH_OPTIM_BENCH_CUDA_H_
