// The shared half of the CPU and MPI communicators: checks each op's arguments, numbers it,
// and runs it on one progress thread in issue order; publishes ops that block to the store so
// that a timeout names the ranks that did not arrive; turns the first failure into a broken
// communicator. A backend supplies the op bodies (Run*), which block until done.
#ifndef TRAIN_COLLECTIVES_COMMON_QUEUED_COMMUNICATOR_H_
#define TRAIN_COLLECTIVES_COMMON_QUEUED_COMMUNICATOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/op_context.h"
#include "train/communicator.h"

namespace train::internal {

class OpExecutor;
class OpLedger;

class QueuedCommunicator : public Communicator {
 public:
  ~QueuedCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  const CommunicatorOptions& options() const override { return options_; }

  std::shared_ptr<Work> AllReduce(TensorView in, TensorView out, ReduceOp op,
                                  OpOptions options = {}) override;
  std::shared_ptr<Work> ReduceScatter(TensorView in, TensorView out, ReduceOp op,
                                      OpOptions options = {}) override;
  std::shared_ptr<Work> AllGather(TensorView in, TensorView out, OpOptions options = {}) override;
  std::shared_ptr<Work> Broadcast(TensorView inout, int root, OpOptions options = {}) override;
  std::shared_ptr<Work> Barrier(OpOptions options = {}) override;
  using Communicator::AllReduce;

  // Through the store: every rank publishes (color, key), reads the others', and the ranks of
  // each color create a child with MakeChild. Backends with a native split override it.
  Result<std::unique_ptr<Communicator>> Split(int color, int key) override;

 protected:
  // `store` may be null only for backends that bootstrap otherwise (MPI); timeouts then name
  // only what the transport saw.
  QueuedCommunicator(Store* store, int rank, int world_size, CommunicatorOptions options);

  // Starts the progress thread; the backend calls it at the end of its construction.
  void StartProgress();
  // Stops the progress thread (pending ops fail with ABORTED); the backend calls it first
  // thing in its destructor, before its transports go away.
  void StopProgress();

  // Op bodies, run one at a time on the progress thread. Tensors are checked: dtypes equal,
  // sizes consistent, device right. kAvg reaches RunAllReduce/RunReduceScatter as is.
  virtual Status RunAllReduce(const TensorView& in, const TensorView& out, ReduceOp op,
                              OpContext& ctx) = 0;
  virtual Status RunReduceScatter(const TensorView& in, const TensorView& out, ReduceOp op,
                                  OpContext& ctx) = 0;
  virtual Status RunAllGather(const TensorView& in, const TensorView& out, OpContext& ctx) = 0;
  virtual Status RunBroadcast(const TensorView& inout, int root, OpContext& ctx) = 0;
  virtual Status RunBarrier(OpContext& ctx) = 0;
  // Creates the communicator of a Split color (same backend); collective over its ranks.
  virtual Result<std::unique_ptr<Communicator>> MakeChild(int rank, int world_size,
                                                          CommunicatorOptions options) = 0;

  Store* store() const { return store_; }
  // Set when this communicator was aborted or is being destroyed.
  const std::atomic<bool>& aborted() const;
  // Aborts: pending ops fail with ABORTED, the running one sees aborted(). Backends extend it
  // to wake their peers (closing sockets, flagging shared memory).
  virtual void AbortAll(const std::string& reason);

 private:
  std::shared_ptr<Work> Submit(OpRecord op, Milliseconds timeout,
                               std::function<Status(OpContext&)> body);

  Store* store_;
  const int rank_;
  const int world_size_;
  const CommunicatorOptions options_;
  std::unique_ptr<OpLedger> ledger_;
  std::unique_ptr<OpExecutor> executor_;
  std::mutex issue_mu_;  // numbering and queueing happen together
  std::uint64_t next_seq_ = 1;
  std::uint64_t splits_ = 0;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_QUEUED_COMMUNICATOR_H_
