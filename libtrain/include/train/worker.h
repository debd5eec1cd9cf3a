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

#include "train/env.h"
#include "train/status.h"
#include "train/store.h"

namespace train {

// Store keys shared by agents and workers. A job's keys live under JobKeyPrefix(job); a
// rendezvous round's under RoundKeyPrefix(job, round) (docs/launcher.md lists them all).
std::string JobKeyPrefix(std::string_view job_id);
std::string RoundKeyPrefix(std::string_view job_id, std::string_view run_id);
// Relative to the round's prefix: where rank `rank` heartbeats, and the heartbeat settings
// its agent published for the round.
std::string WorkerHeartbeatKey(int rank);
std::string WorkerProgressKey(int rank);
inline constexpr char kRoundConfigKey[] = "config";

struct WorkerOptions {
  // How long Init waits for the store (rank 0 may start a moment after the others).
  Milliseconds connect_timeout{std::chrono::seconds(60)};
  // Used when the agent published no heartbeat settings for the round.
  Milliseconds heartbeat_interval{std::chrono::seconds(1)};
  Milliseconds heartbeat_ttl{std::chrono::seconds(5)};
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

  // Publishes this rank's training step, which `trainctl run` shows in its status line.
  // Cheap (one store write); a no-op without a store.
  Status ReportProgress(std::int64_t step);

  // Waits until every rank called Barrier the same number of times (calls are matched in
  // order). DEADLINE_EXCEEDED names how many ranks arrived.
  Status Barrier(Milliseconds timeout);
  Status Barrier() { return Barrier(std::chrono::minutes(5)); }

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
