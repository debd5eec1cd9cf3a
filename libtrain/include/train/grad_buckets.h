// Gradient bucketing for data-parallel training with a hand-written backward pass: gradients
// are grouped into buckets, and a bucket's all-reduce starts as soon as its last gradient is
// complete, so communication overlaps the rest of the backward pass (as PyTorch DDP does).
//
//   auto buckets = train::GradientBuckets::Create(comm.get());
//   for (Param& p : params) (*buckets)->Register(p.name, p.grad);   // in forward order
//   // each step:
//   for (Param& p : reversed(params)) {
//     p.ComputeGradient();
//     TRAIN_CHECK_OK((*buckets)->MarkReady(p.name));   // may start a bucket's all-reduce
//   }
//   TRAIN_CHECK_OK((*buckets)->Finish());   // every gradient now holds the average over ranks
//
// Buckets are formed in reverse registration order (backward produces the last layers'
// gradients first), one dtype per bucket, closed once they reach a size cap; the first bucket
// has a smaller cap so that communication starts early. Buckets are all-reduced in bucket
// order on every rank, whatever order gradients are marked in. Every rank must register the
// same gradients (names, dtypes, sizes) in the same order.
//
// A gradient marked ready must not be written until Finish returns. Methods may be called from
// several threads. The communicator must outlive the GradientBuckets.
//
// CUDA gradients (a communicator on CUDA memory: NCCL): the buckets are device memory of the
// communicator's GPU, and MarkReady enqueues its copy (or its 16-bit rounding) on the legacy
// default stream, after which the all-reduce follows in stream order; nothing waits on the
// host. So a gradient must be complete in that stream's order when it is marked: computed on
// the legacy default stream or on a blocking stream (cudaStreamCreate without
// cudaStreamNonBlocking); synchronize a non-blocking stream before marking its gradients.
// Finish returns once the results are in the gradients (it synchronizes that stream).
#ifndef TRAIN_GRAD_BUCKETS_H_
#define TRAIN_GRAD_BUCKETS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "train/communicator.h"
#include "train/dtype.h"
#include "train/status.h"
#include "train/tensor.h"

namespace train {

// What goes over the wire: the gradients' own dtype, or float32/float64 gradients rounded to
// a 16-bit float for the all-reduce and widened back afterwards (half the bytes, the precision
// of the 16-bit type).
enum class WireDType { kNone, kBFloat16, kFloat16 };
// "none", "bfloat16", "float16".
std::string_view WireDTypeName(WireDType wire);
Result<WireDType> ParseWireDType(std::string_view name);

struct GradientBucketsOptions {
  // A bucket is closed once it holds at least this many bytes (of the gradients' dtype); a
  // gradient larger than the cap gets a bucket of its own.
  std::size_t cap_bytes = std::size_t{25} << 20;
  // The cap of the first bucket (the last gradients registered), small so that the first
  // all-reduce starts early in the backward pass.
  std::size_t first_cap_bytes = std::size_t{1} << 20;
  // Divide the sums by the world size (integer gradients truncate).
  bool average = true;
  WireDType wire_dtype = WireDType::kNone;
  // Each bucket's all-reduce timeout; 0: the communicator's.
  Milliseconds timeout{0};
};

// One bucket of the layout.
struct GradientBucket {
  std::vector<std::size_t> gradients;  // registration indices, in the bucket's memory order
  DType dtype = DType::kFloat32;       // of its gradients
  std::uint64_t numel = 0;
  std::uint64_t wire_bytes = 0;  // what its all-reduce moves per rank
  // A single gradient without wire compression is all-reduced where it lies, without a copy.
  bool in_place = false;
};

struct GradientBucketStats {
  std::size_t buckets = 0;
  std::uint64_t wire_bytes = 0;             // all-reduced per rank per iteration
  std::size_t issued = 0;                   // buckets issued so far in the current iteration
  std::size_t issued_before_finish = 0;     // at the last Finish: buckets already in flight
  std::chrono::nanoseconds finish_wait{0};  // the last Finish's wait for communication
  std::uint64_t iterations = 0;             // Finish calls that succeeded
};

class GradientBuckets {
 public:
  // `comm` must outlive the result. Errors: a null communicator, caps of 0, a communicator on
  // CUDA memory in a process that cannot use its GPU.
  static Result<std::unique_ptr<GradientBuckets>> Create(
      Communicator* comm, const GradientBucketsOptions& options = {});
  ~GradientBuckets();  // waits for the all-reduces still in flight
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // Adds a parameter's gradient (call in forward order) and returns its index. Errors: a name
  // used before, a dtype collectives do not carry, a tensor on another device than the
  // communicator's (CPU or CUDA, and which GPU), wire compression of a non-float gradient, or a
  // call after the layout was fixed (by the first MarkReady, Finish or Layout).
  Result<std::size_t> Register(std::string name, TensorView grad);

  // The gradient is complete: it is copied into its bucket (unless it lives there: see
  // GradientInBucket), and when it completes the bucket, that bucket's all-reduce is issued
  // (with every later bucket already complete, in bucket order). Errors: an unknown index or
  // name, a gradient marked twice in one iteration.
  Status MarkReady(std::size_t index);
  Status MarkReady(std::string_view name);

  // The gradient's parameter took no part in this iteration (PyTorch DDP's unused
  // parameters): it counts as zeros in the all-reduce, and Finish writes the others' average
  // (or sum) into it. Call it instead of MarkReady; the same errors.
  Status MarkUnused(std::size_t index);
  Status MarkUnused(std::string_view name);

  // Waits for every bucket's all-reduce, writes the results into the gradients (each bucket's
  // as soon as it completed, while later ones are still in flight), and starts the next
  // iteration. Errors: gradients not marked ready (named; nothing is issued for their
  // buckets, so peers time out, and no gradient is written), or the first all-reduce that
  // failed (the gradients then hold a mix of averages and local values: recompute them).
  Status Finish();

  // Moves a gradient into its bucket (PyTorch DDP's gradient_as_bucket_view) and returns the
  // bucket's memory for it, which starts with the gradient's current values. From then on the
  // backward pass writes that gradient there, and MarkReady and Finish copy nothing for it:
  // the tensor given to Register is no longer read or written. Returns that tensor itself for
  // a bucket all-reduced in place. Calling it again returns the same view. Fixes the layout.
  // Errors: an unknown index or name, wire compression (the bucket holds 16-bit values), a
  // gradient marked ready in the current iteration, the buckets' allocation.
  Result<TensorView> GradientInBucket(std::size_t index);
  Result<TensorView> GradientInBucket(std::string_view name);

  // The buckets, in all-reduce order. Fixes the layout: Register is refused afterwards.
  std::vector<GradientBucket> Layout();
  GradientBucketStats stats() const;

 private:
  struct Impl;
  explicit GradientBuckets(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace train

#endif  // TRAIN_GRAD_BUCKETS_H_
