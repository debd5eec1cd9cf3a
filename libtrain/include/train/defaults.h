// The defaults that a TrainingJob's spec, the worker environment and libtrain share: one table,
// so that a job behaves the same under trainctl, under torchrun and on its own. trainctl fills
// an unset spec field from here (`trainctl defaults`), the schema's "Default:" lines that
// `trainctl explain` prints are checked against it, and libtrain uses the same values when
// neither the program nor the environment gives one.
#ifndef TRAIN_DEFAULTS_H_
#define TRAIN_DEFAULTS_H_

#include <chrono>

namespace train::defaults {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// The rendezvous (spec.rendezvous) and the store.
inline constexpr int kStorePort = 29400;                       // rendezvous.port
inline constexpr milliseconds kJoinTimeout = minutes(10);      // rendezvous.joinTimeout
inline constexpr milliseconds kLastCall = seconds(2);          // rendezvous.lastCall
inline constexpr milliseconds kHeartbeat = seconds(1);         // rendezvous.heartbeat
inline constexpr milliseconds kHeartbeatTimeout = seconds(5);  // rendezvous.heartbeatTimeout
// A store's Get and Wait when the caller gives no timeout.
inline constexpr milliseconds kStoreWaitTimeout = seconds(30);
// One store request's answer (connect included), beyond its own wait.
inline constexpr milliseconds kStoreRequestTimeout = seconds(10);
// The store server: a request's head, then its body, must each arrive within this.
inline constexpr milliseconds kStoreReadTimeout = seconds(30);

// Failures (spec.failurePolicy).
inline constexpr int kMaxRestarts = 3;                         // failurePolicy.maxRestarts
inline constexpr milliseconds kRestartBackoff = seconds(1);    // failurePolicy.backoff
inline constexpr milliseconds kPreemptionGrace = seconds(30);  // failurePolicy.preemptionGrace

// Collectives (spec.collectives): how long one collective, or Worker::Barrier, may take
// before it fails DEADLINE_EXCEEDED naming the ranks that did not arrive. Generous: a peer that
// dies is noticed at once anyway; this catches a peer that is alive but stuck, and must not
// fire while one rank evaluates or loads a checkpoint and the others wait.
inline constexpr milliseconds kCollectiveTimeout = minutes(5);  // collectives.timeout

// Checkpoints (spec.checkpoint; train::TrainerOptions, train::CheckpointOptions).
inline constexpr int kCheckpointEverySteps = 1000;   // checkpoint.everySteps
inline constexpr int kCheckpointKeep = 3;            // checkpoint.keep
inline constexpr bool kCheckpointAsync = true;       // checkpoint.async
inline constexpr int kMemorySnapshotEverySteps = 1;  // checkpoint.memory.everySteps
inline constexpr int kMemorySnapshotReplicas = 1;    // checkpoint.memory.replicas

}  // namespace train::defaults

#endif  // TRAIN_DEFAULTS_H_
