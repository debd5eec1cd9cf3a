// The store keys that agents and workers share: the protocol between trainctl and libtrain's
// train::Worker (docs/launcher.md lists every key of a job).
#ifndef TRAIN_INTERNAL_JOB_KEYS_H_
#define TRAIN_INTERNAL_JOB_KEYS_H_

#include <string>
#include <string_view>

namespace train::internal {

// A job's keys live under JobKeyPrefix(job), a rendezvous round's under
// RoundKeyPrefix(job, round).
inline std::string JobKeyPrefix(std::string_view job_id) {
  return "job/" + std::string(job_id) + "/";
}
inline std::string RoundKeyPrefix(std::string_view job_id, std::string_view run_id) {
  return JobKeyPrefix(job_id) + "round/" + std::string(run_id) + "/";
}

// Relative to the round's prefix: where rank `rank` heartbeats, and the heartbeat settings
// ("<interval_ms> <ttl_ms>") its agent published for the round.
inline std::string WorkerHeartbeatKey(int rank) {
  return "worker/" + std::to_string(rank) + "/heartbeat";
}
inline constexpr char kRoundConfigKey[] = "config";

}  // namespace train::internal

#endif  // TRAIN_INTERNAL_JOB_KEYS_H_
