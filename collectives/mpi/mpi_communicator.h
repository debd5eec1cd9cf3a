// The Communicator of a job started by mpirun: collectives on a duplicate of MPI_COMM_WORLD,
// issued as nonblocking MPI calls and polled on the progress thread, so that a timeout or an
// abort is noticed. MPI cannot cancel a collective: an op that timed out stays posted, and the
// communicator is broken from then on.
#ifndef TRAIN_COLLECTIVES_MPI_MPI_COMMUNICATOR_H_
#define TRAIN_COLLECTIVES_MPI_MPI_COMMUNICATOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "common/backends.h"
#include "common/queued_communicator.h"
#include "mpi/mpi_runtime.h"

namespace train::internal {

// The plugin's factory: initializes MPI if needed, checks args.rank/world_size against
// MPI_COMM_WORLD, and duplicates it (within options.timeout). CPU memory only.
Result<std::unique_ptr<Communicator>> CreateMpiCommunicator(const BackendArgs& args);

class MpiCommunicator : public QueuedCommunicator {
 public:
  // Takes `comm`, whose rank and size are `rank` and `world_size`, and starts the progress
  // thread.
  static std::unique_ptr<Communicator> Wrap(MpiRuntime* runtime, MpiComm comm, Store* store,
                                            int rank, int world_size, CommunicatorOptions options);
  ~MpiCommunicator() override;

  CommBackend backend() const override { return CommBackend::kMpi; }

  // MPI_Comm_split, after a barrier: every earlier op finished and every rank arrived, so
  // the split neither overlaps an op nor waits on a rank that never comes. The child is
  // named "<name>/split<n>/color<color>".
  Result<std::unique_ptr<Communicator>> Split(int color, int key) override;

 protected:
  Status RunAllReduce(const TensorView& in, const TensorView& out, ReduceOp op,
                      OpContext& ctx) override;
  Status RunReduceScatter(const TensorView& in, const TensorView& out, ReduceOp op,
                          OpContext& ctx) override;
  Status RunAllGather(const TensorView& in, const TensorView& out, OpContext& ctx) override;
  Status RunBroadcast(const TensorView& inout, int root, OpContext& ctx) override;
  Status RunBarrier(OpContext& ctx) override;
  // Not reached: Split above does not go through the store.
  Result<std::unique_ptr<Communicator>> MakeChild(int rank, int world_size,
                                                  CommunicatorOptions options) override;

 private:
  MpiCommunicator(MpiRuntime* runtime, MpiComm comm, Store* store, int rank, int world_size,
                  CommunicatorOptions options);

  // Posts an op (`post` fills the request; `call` names it) and polls it to completion, an
  // error, an abort or the op's deadline.
  template <typename Post>
  Status Run(const char* call, OpContext& ctx, Post post);

  MpiRuntime* const runtime_;
  MpiComm comm_;
  // Ops abandoned on a timeout or an abort: still posted, since MPI cannot cancel them.
  std::vector<MPI_Request> abandoned_;
  std::uint64_t splits_ = 0;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_MPI_MPI_COMMUNICATOR_H_
