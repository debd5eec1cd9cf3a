// The Communicator of CUDA memory: NCCL on one stream per communicator, ops completed and
// timed out by the watchdog of NcclQueue.
#ifndef TRAIN_COLLECTIVES_NCCL_NCCL_COMMUNICATOR_H_
#define TRAIN_COLLECTIVES_NCCL_NCCL_COMMUNICATOR_H_

#include <cstdint>
#include <memory>

#include "common/backends.h"
#include "nccl/cuda_handles.h"
#include "nccl/nccl_queue.h"

namespace train::internal {

// FAILED_PRECONDITION, saying why and what to do, when this process cannot use CUDA device
// `device_index` (no driver, no GPU, fewer GPUs than the index).
Status CheckCudaDevice(int device_index);

// The plugin's factory: checks the device, makes it current (cudaSetDevice), agrees on a
// unique id with the other ranks and forms the communicator, all within options.timeout.
Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(const BackendArgs& args);

class NcclCommunicator : public Communicator {
 public:
  // Wraps a formed communicator (on options.device_index, the current device).
  static Result<std::unique_ptr<Communicator>> Create(NcclComm comm, int rank, int world_size,
                                                      CommunicatorOptions options, Store* store);
  ~NcclCommunicator() override = default;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  CommBackend backend() const override { return CommBackend::kNccl; }
  const CommunicatorOptions& options() const override { return options_; }

  std::shared_ptr<Work> AllReduce(TensorView in, TensorView out, ReduceOp op,
                                  OpOptions options = {}) override;
  std::shared_ptr<Work> ReduceScatter(TensorView in, TensorView out, ReduceOp op,
                                      OpOptions options = {}) override;
  std::shared_ptr<Work> AllGather(TensorView in, TensorView out, OpOptions options = {}) override;
  std::shared_ptr<Work> Broadcast(TensorView inout, int root, OpOptions options = {}) override;
  std::shared_ptr<Work> Barrier(OpOptions options = {}) override;
  using Communicator::AllReduce;

  // ncclCommSplit; the child is named "<name>/split<n>/color<color>".
  Result<std::unique_ptr<Communicator>> Split(int color, int key) override;
  // A CPU communicator of the same ranks, formed over the store.
  Result<std::unique_ptr<Communicator>> SplitForHost() override;

 private:
  NcclCommunicator(DeviceBuffer barrier_cell, std::shared_ptr<NcclQueue> queue, int rank,
                   int world_size, CommunicatorOptions options, Store* store);

  // The checks every op's tensors pass before anything is enqueued: dtype, CUDA memory of
  // this communicator's device.
  Status CheckDeviceTensor(std::string_view op, std::string_view arg,
                           const TensorView& tensor) const;

  DeviceBuffer barrier_cell_;  // what Barrier all-reduces; freed after queue_ closed
  std::shared_ptr<NcclQueue> queue_;
  const int rank_;
  const int world_size_;
  const CommunicatorOptions options_;
  Store* const store_;
  std::uint64_t splits_ = 0;
  std::uint64_t host_splits_ = 0;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_NCCL_NCCL_COMMUNICATOR_H_
