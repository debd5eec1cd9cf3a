// train-bench buckets: what GradientBuckets' overlap buys. Every rank of a job (under
// `trainctl run --nproc N`) runs a synthetic backward pass (real arithmetic writing each
// gradient, layer by layer in reverse) and averages the gradients four ways: backward alone,
// the all-reduces alone, backward then all-reduces, and buckets issued during backward. Rank 0
// prints the step times and how much of the communication the overlap hid.
#ifndef BENCH_BUCKETS_BENCH_H_
#define BENCH_BUCKETS_BENCH_H_

namespace bench {

// argv[0] is "buckets"; returns the process exit code.
int RunBucketsBench(int argc, char** argv);

}  // namespace bench

#endif  // BENCH_BUCKETS_BENCH_H_
