// The worker's side of a job: who it is, the store it meets the others through, heartbeats to
// its agent, and barriers.
//
//   auto worker = train::Worker::Init();          // reads the environment, connects, heartbeats
//   if (!worker.ok()) { train::LogError(worker.status().ToString()); return 2; }
//   TRAIN_CHECK_OK((*worker)->Barrier());          // every rank arrived
//
// Under trainctl the worker connects to its job's store (TRAIN_STORE_ADDR, TRAIN_TOKEN_FILE) and
// heartbeats there, so that its agent can tell a hung worker from a busy one. Under torchrun
// rank 0 hosts a store at MASTER_ADDR:MASTER_PORT and the others connect to it. Standalone and
// under mpirun there is no store: Barrier is trivial for a world of one, an error otherwise.
#ifndef TRAIN_WORKER_H_
#define TRAIN_WORKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "train/defaults.h"
#include "train/env.h"
#include "train/status.h"
#include "train/store.h"

namespace train {

struct WorkerOptions {
  // How long Init waits for the store (rank 0 may start a moment after the others).
  Milliseconds connect_timeout{std::chrono::seconds(60)};
  // Used when the agent published no heartbeat settings for the round.
  Milliseconds heartbeat_interval = defaults::kHeartbeat;
  Milliseconds heartbeat_ttl = defaults::kHeartbeatTimeout;
};

class Worker {
 public:
  // Reads the environment (WorkerEnv::FromEnvironment) and joins the job.
  static Result<std::unique_ptr<Worker>> Init(const WorkerOptions& options = {});
  // Joins the job described by `env`.
  static Result<std::unique_ptr<Worker>> Init(const WorkerEnv& env,
                                              const WorkerOptions& options = {});

  ~Worker();  // stops heartbeating (and the hosted store, under torchrun)
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  const WorkerEnv& env() const { return env_; }
  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }

  // The round's store (keys scoped to this job and round), or nullptr without one.
  Store* store() const { return round_store_.get(); }

  // Tells this worker's agent the training step (train::Trainer does after every step): rank
  // 0's is the step `trainctl run` shows in its status line, and `--chaos` rules fire on it.
  // One datagram on the agent's step-report socket (train/metrics.h), never a store write;
  // a no-op without an agent.
  Status ReportProgress(std::int64_t step);

  // Waits until every rank called Barrier the same number of times (calls are matched in
  // order). DEADLINE_EXCEEDED names how many ranks arrived. Without a timeout: the job's
  // collective timeout (spec.collectives.timeout), else defaults::kCollectiveTimeout.
  Status Barrier(Milliseconds timeout);
  Status Barrier();

 private:
  struct Impl;
  Worker(WorkerEnv env, std::unique_ptr<Impl> impl);

  WorkerEnv env_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Store> round_store_;
  std::int64_t barrier_count_ = 0;
};

}  // namespace train

#endif  // TRAIN_WORKER_H_
