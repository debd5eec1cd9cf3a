// Collectives between the ranks of a job: all-reduce, reduce-scatter, all-gather, broadcast and
// barrier, on CPU memory (shared memory within a host, TCP between hosts), on CUDA memory
// (NCCL), or through MPI when the job was started by mpirun.
//
//   auto worker = train::Worker::Init();
//   auto comm = train::Communicator::Create(**worker);        // backend picked from the env
//   train::TensorView grads{ptr, train::DType::kFloat32, n};
//   TRAIN_CHECK_OK((*comm)->AllReduce(grads, train::ReduceOp::kAvg)->Wait());
//
// Every op is asynchronous: it returns a Work at once and runs in the order ops were issued.
// Every rank must issue the same ops in the same order with the same dtype and count. An op
// that does not complete within its timeout fails with DEADLINE_EXCEEDED naming the ranks that
// did not arrive; a peer that died fails the op with UNAVAILABLE naming it. After an op failed
// or was aborted the communicator is broken: later ops fail at once with the first error.
#ifndef TRAIN_COMMUNICATOR_H_
#define TRAIN_COMMUNICATOR_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "train/dtype.h"
#include "train/status.h"
#include "train/store.h"
#include "train/tensor.h"

namespace train {

class Worker;

enum class ReduceOp { kSum, kAvg, kMin, kMax, kProd };
// "sum", "avg", "min", "max", "prod".
std::string_view ReduceOpName(ReduceOp op);

enum class CommBackend {
  kAuto,  // MPI under mpirun (NCCL for CUDA), else NCCL for CUDA, else CPU
  kCpu,   // shared memory within a host, TCP between hosts
  kNccl,  // CUDA memory; needs a GPU per rank
  kMpi,   // MPI_COMM_WORLD of mpirun
};
// "auto", "cpu", "nccl", "mpi".
std::string_view CommBackendName(CommBackend backend);
Result<CommBackend> ParseCommBackend(std::string_view name);

using Deadline = std::chrono::steady_clock::time_point;

struct CommunicatorOptions {
  // kAuto: the job's collectives.backend when created from a Worker under trainctl
  // (TRAIN_COLLECTIVE_BACKEND), else picked as kAuto says.
  CommBackend backend = CommBackend::kAuto;
  // Where the tensors live: kCpu, or kCuda (device `device_index`) for NCCL.
  Device device = Device::kCpu;
  int device_index = 0;
  // Every op's timeout unless the op gives its own (and the bootstrap's). 0: the job's
  // collectives.timeout when created from a Worker under trainctl (TRAIN_COLLECTIVE_TIMEOUT_MS),
  // else 5 minutes.
  Milliseconds timeout{0};
  // Results bitwise identical whatever the message size or chunking, for a given world size
  // (each element is reduced in rank order). Slower between hosts.
  bool deterministic = false;
  // Names the communicator's keys in the store; communicators created at once by the same
  // ranks need different names. Split derives its children's names from it.
  std::string name = "world";
  // CPU backend: bytes per pipelined chunk (0: the backend's default).
  std::size_t chunk_bytes = 0;
  // CPU backend: the address other hosts reach this rank at ("": the address of the interface
  // that routes to the store's host, or loopback when everything is local).
  std::string listen_host;
  // CPU backend: ranks with the same host id share memory. "": detected (host name, boot id,
  // IPC namespace and /dev/shm must all match). Set it to make ranks of one machine talk TCP.
  std::string host_id;
};

// One issued op. Safe to use from any thread; waiting twice returns the same status.
class Work {
 public:
  virtual ~Work() = default;
  // Waits until the op completed, failed, or `deadline` passed. Returns the op's status, or
  // DEADLINE_EXCEEDED when the deadline passed first (the op goes on: wait again or Abort).
  virtual Status Wait(Deadline deadline) = 0;
  // Waits for as long as the op's own timeout allows.
  Status Wait() { return Wait(Deadline::max()); }
  // True once the op completed or failed.
  virtual bool Done() const = 0;
  // Aborts the communicator: this op and every pending one fail with ABORTED, peers blocked in
  // an op that waits on this rank fail at once naming it (CPU backend; NCCL and MPI: within
  // their timeouts), and the communicator cannot be used again.
  virtual void Abort() = 0;
  // What was issued: "allreduce #12 (sum, float32 x 1048576)".
  virtual std::string Describe() const = 0;
};

struct OpOptions {
  Milliseconds timeout{0};  // 0: the communicator's timeout
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // Joins `world_size` ranks that meet through `store` (keys under options.name). Collective:
  // every rank calls it. `store` must outlive the communicator. Errors name what is missing
  // (no GPU for NCCL, no MPI for kMpi, a peer that did not show up within options.timeout).
  static Result<std::unique_ptr<Communicator>> Create(Store* store, int rank, int world_size,
                                                      const CommunicatorOptions& options = {});
  // The worker's job: its store, rank and world size, and MPI when started by mpirun.
  static Result<std::unique_ptr<Communicator>> Create(Worker& worker,
                                                      const CommunicatorOptions& options = {});

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual CommBackend backend() const = 0;
  virtual const CommunicatorOptions& options() const = 0;
  // How it connects, for logs: `cpu communicator "world": rank 2 of 4, 2 hosts (ranks 0-1 |
  // 2-3), shared memory within a host, TCP between hosts (this rank at 10.0.0.2)`. The CPU
  // backend's rank 0 logs it when the ranks span several hosts.
  virtual std::string Describe() const;

  // out[i] = op over ranks of in[i]. `out` may be `in` (in place). kAvg divides the sum by the
  // world size (integers: truncating). Same dtype and numel on every rank.
  virtual std::shared_ptr<Work> AllReduce(TensorView in, TensorView out, ReduceOp op,
                                          OpOptions options = {}) = 0;
  std::shared_ptr<Work> AllReduce(TensorView inout, ReduceOp op, OpOptions options = {}) {
    return AllReduce(inout, inout, op, options);
  }
  // `in` holds world_size blocks of out.numel elements; rank r receives block r reduced.
  virtual std::shared_ptr<Work> ReduceScatter(TensorView in, TensorView out, ReduceOp op,
                                              OpOptions options = {}) = 0;
  // `out` holds world_size blocks of in.numel elements; block r is rank r's `in`. `in` may be
  // block `rank` of `out` (in place).
  virtual std::shared_ptr<Work> AllGather(TensorView in, TensorView out,
                                          OpOptions options = {}) = 0;
  // Every rank's `inout` receives the root's.
  virtual std::shared_ptr<Work> Broadcast(TensorView inout, int root, OpOptions options = {}) = 0;
  // Completes once every rank issued it.
  virtual std::shared_ptr<Work> Barrier(OpOptions options = {}) = 0;

  // A communicator of the ranks that pass the same `color` (>= 0), ranked by (key, rank);
  // a negative color takes part but gets nullptr. Collective over this communicator; the
  // child has this one's backend and options.
  virtual Result<std::unique_ptr<Communicator>> Split(int color, int key) = 0;

  // The same ranks, over host memory (CPU tensors): for what moves host bytes beside the
  // model's collectives, such as checkpoints and memory snapshots. Collective over this
  // communicator. A CPU or MPI communicator splits itself; an NCCL one forms a CPU
  // communicator over its store, named "<name>/host<n>".
  virtual Result<std::unique_ptr<Communicator>> SplitForHost() { return Split(0, rank()); }

 protected:
  Communicator() = default;
};

}  // namespace train

#endif  // TRAIN_COMMUNICATOR_H_
