// Environment variables that libtrain and trainctl pass between themselves outside the worker
// contract (train::WorkerEnv, which env.cc reads and writes). docs/env.md documents each.
#ifndef TRAIN_INTERNAL_ENV_NAMES_H_
#define TRAIN_INTERNAL_ENV_NAMES_H_

namespace train::internal {

// The agent's socket for step reports (train::ReportStep): set by the agent for its workers,
// absent when a worker runs without one.
inline constexpr char kMetricsSocketVariable[] = "TRAIN_METRICS_SOCKET";

// Where the collective backends' plugins (libtrain-nccl.so, libtrain-mpi.so) are looked for
// instead of beside libtrain.so.
inline constexpr char kPluginDirVariable[] = "TRAIN_PLUGIN_DIR";

}  // namespace train::internal

#endif  // TRAIN_INTERNAL_ENV_NAMES_H_
