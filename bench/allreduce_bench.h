// train-bench allreduce: the Communicator's all-reduce over a sweep of sizes, run by every
// rank of a job (under `trainctl run --nproc N`), printed by rank 0 as an nccl-tests table
// with the memory-bandwidth bound of this machine.
#ifndef BENCH_ALLREDUCE_BENCH_H_
#define BENCH_ALLREDUCE_BENCH_H_

namespace bench {

// argv[0] is "allreduce"; returns the process exit code.
int RunAllreduceBench(int argc, char** argv);

}  // namespace bench

#endif  // BENCH_ALLREDUCE_BENCH_H_
