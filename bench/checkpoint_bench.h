// train-bench checkpoint: Checkpointer save and load against the disk measured in the same run
// (dd with conv=fsync for writes, a sequential read of the same files for loads).
#ifndef BENCH_CHECKPOINT_BENCH_H_
#define BENCH_CHECKPOINT_BENCH_H_

namespace bench {

// argv[0] is "checkpoint"; returns the process exit code.
int RunCheckpointBench(int argc, char** argv);

}  // namespace bench

#endif  // BENCH_CHECKPOINT_BENCH_H_
