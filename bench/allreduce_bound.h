// The memory bandwidth an all-reduce on this machine is bound by: a multi-threaded copy,
// counted as STREAM counts it (bytes read plus bytes written).
#ifndef BENCH_ALLREDUCE_BOUND_H_
#define BENCH_ALLREDUCE_BOUND_H_

#include <cstddef>

#include "summary.h"

namespace bench {

// GB/s of copying `bytes` between two arrays with `threads` threads, `reps` times (after one
// untimed pass that faults the pages in).
Summary MeasureCopyGbps(int threads, std::size_t bytes, int reps);

}  // namespace bench

#endif  // BENCH_ALLREDUCE_BOUND_H_
