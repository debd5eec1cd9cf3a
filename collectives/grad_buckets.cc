#include "train/grad_buckets.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/op.h"
#include "grad_buckets_layout.h"
#include "grad_buckets_memory.h"

namespace train {
namespace internal {
// Named, not anonymous: GradientBuckets::Impl, a class of the public API, holds these.
namespace gradient_buckets {

struct Gradient {
  std::string name;
  TensorView tensor;
  std::size_t bucket = 0;
  std::uint64_t offset = 0;  // elements into the bucket's flat buffer
  bool ready = false;
  bool in_bucket = false;  // lives in its bucket (GradientInBucket): nothing to copy
};

struct Bucket {
  GradientBucket info;
  std::byte* buffer = nullptr;  // in the BucketMemory; null when in place
  TensorView flat;              // what is all-reduced
  std::size_t pending = 0;      // gradients not yet marked this iteration
  std::shared_ptr<Work> work;
};

}  // namespace gradient_buckets
namespace {

std::string DescribeBucket(std::size_t index, const gradient_buckets::Bucket& bucket) {
  return "bucket " + std::to_string(index) + " (" + std::to_string(bucket.info.gradients.size()) +
         " gradients, " + std::string(DTypeName(bucket.flat.dtype)) + " x " +
         std::to_string(bucket.flat.numel) + ")";
}

}  // namespace
}  // namespace internal

using internal::gradient_buckets::Bucket;
using internal::gradient_buckets::Gradient;

struct GradientBuckets::Impl {
  Communicator* comm;
  GradientBucketsOptions options;
  std::unique_ptr<internal::BucketMemory> memory;  // host or device, as the communicator's

  mutable std::mutex mu;
  std::vector<Gradient> grads;
  std::unordered_map<std::string, std::size_t> by_name;
  bool fixed = false;  // the layout exists: Register is refused
  // The buffers' allocation, tried once (first MarkReady, MarkUnused or GradientInBucket).
  std::optional<Status> allocated;
  std::vector<Bucket> buckets;
  std::size_t next_to_issue = 0;  // buckets issue in order
  GradientBucketStats stats;

  // The registration index of `name`; NOT_FOUND naming `method` and the name.
  Result<std::size_t> IndexOf(std::string_view method, std::string_view name) const;
  // OUT_OF_RANGE naming `method` unless `index` was registered (mu held).
  Status CheckIndex(std::string_view method, std::size_t index) const;
  // Where a copied gradient lies in its bucket's buffer (after AllocateBuffers).
  std::byte* Slot(const Gradient& grad) const;
  void FixLayout();
  Status AllocateBuffers();  // with mu held; the first attempt's status on every call
  void IssueReadyBuckets();  // with mu held
  // MarkReady (`unused` false) and MarkUnused.
  Status Mark(std::size_t index, bool unused);
  Status CopyIn(const Gradient& grad);
  // Zeros where the gradient is all-reduced from: its place in the bucket, or itself.
  Status ZeroIn(const Gradient& grad);
  Status CopyOut(const Gradient& grad);
  void ResetIteration();  // with mu held
  // Waits for the issued buckets in order (mu not held) and, with `copy_out`, writes each
  // bucket's results into its gradients as soon as it completed, while the later buckets are
  // still in flight. The first failure; `waited` gets the time spent waiting.
  Status WaitAndCopyOut(const std::vector<std::pair<std::size_t, std::shared_ptr<Work>>>& issued,
                        bool copy_out, std::chrono::nanoseconds* waited);
};

Result<std::size_t> GradientBuckets::Impl::IndexOf(std::string_view method,
                                                   std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu);
  auto it = by_name.find(std::string(name));
  if (it == by_name.end()) {
    return NotFoundError("GradientBuckets::" + std::string(method) + "(\"" + std::string(name) +
                         "\"): no gradient of that name was registered");
  }
  return it->second;
}

void GradientBuckets::Impl::FixLayout() {
  if (fixed) return;
  fixed = true;
  std::vector<internal::GradientShape> shapes;
  shapes.reserve(grads.size());
  for (const Gradient& grad : grads) shapes.push_back({grad.tensor.dtype, grad.tensor.numel});
  for (GradientBucket& info : internal::ComputeBucketLayout(shapes, options)) {
    Bucket bucket;
    bucket.info = std::move(info);
    const std::size_t index = buckets.size();
    std::uint64_t offset = 0;
    for (std::size_t g : bucket.info.gradients) {
      grads[g].bucket = index;
      grads[g].offset = offset;
      offset += grads[g].tensor.numel;
    }
    if (bucket.info.in_place) {
      bucket.flat = grads[bucket.info.gradients[0]].tensor;
    } else {
      bucket.flat.dtype = internal::WireDTypeFor(bucket.info.dtype, options.wire_dtype);
      bucket.flat.numel = bucket.info.numel;
      bucket.flat.device = memory->device();
      bucket.flat.device_index = memory->device_index();
    }
    bucket.pending = bucket.info.gradients.size();
    stats.wire_bytes += bucket.info.wire_bytes;
    buckets.push_back(std::move(bucket));
  }
  stats.buckets = buckets.size();
}

Status GradientBuckets::Impl::CheckIndex(std::string_view method, std::size_t index) const {
  if (index < grads.size()) return Status::Ok();
  return OutOfRangeError("GradientBuckets::" + std::string(method) + "(" + std::to_string(index) +
                         "): only " + std::to_string(grads.size()) + " gradients are registered");
}

std::byte* GradientBuckets::Impl::Slot(const Gradient& grad) const {
  const Bucket& bucket = buckets[grad.bucket];
  return bucket.buffer + grad.offset * DTypeSize(bucket.flat.dtype);
}

Status GradientBuckets::Impl::AllocateBuffers() {
  if (allocated) return *allocated;
  allocated = Status::Ok();
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    Bucket& bucket = buckets[i];
    if (bucket.info.in_place) continue;
    Result<void*> buffer = memory->Allocate(bucket.info.wire_bytes);
    if (!buffer.ok()) {
      allocated = buffer.status().WithContext(internal::DescribeBucket(i, bucket));
      break;
    }
    bucket.buffer = static_cast<std::byte*>(*buffer);
    bucket.flat.data = bucket.buffer;
  }
  return *allocated;
}

void GradientBuckets::Impl::IssueReadyBuckets() {
  const ReduceOp op = options.average ? ReduceOp::kAvg : ReduceOp::kSum;
  while (next_to_issue < buckets.size() && buckets[next_to_issue].pending == 0) {
    Bucket& bucket = buckets[next_to_issue++];
    bucket.work = comm->AllReduce(bucket.flat, op, OpOptions{options.timeout});
    ++stats.issued;
  }
}

Status GradientBuckets::Impl::CopyIn(const Gradient& grad) {
  const Bucket& bucket = buckets[grad.bucket];
  if (bucket.info.in_place || grad.in_bucket || grad.tensor.numel == 0) return Status::Ok();
  return memory->CopyIn(grad.tensor, Slot(grad), bucket.flat.dtype);
}

Status GradientBuckets::Impl::ZeroIn(const Gradient& grad) {
  const Bucket& bucket = buckets[grad.bucket];
  if (grad.tensor.numel == 0) return Status::Ok();
  if (bucket.info.in_place) return memory->Zero(grad.tensor.data, grad.tensor.bytes());
  return memory->Zero(Slot(grad), grad.tensor.numel * DTypeSize(bucket.flat.dtype));
}

Status GradientBuckets::Impl::CopyOut(const Gradient& grad) {
  const Bucket& bucket = buckets[grad.bucket];
  if (bucket.info.in_place || grad.in_bucket || grad.tensor.numel == 0) return Status::Ok();
  return memory->CopyOut(Slot(grad), bucket.flat.dtype, grad.tensor);
}

void GradientBuckets::Impl::ResetIteration() {
  for (Gradient& grad : grads) grad.ready = false;
  for (Bucket& bucket : buckets) {
    bucket.pending = bucket.info.gradients.size();
    bucket.work.reset();
  }
  next_to_issue = 0;
  stats.issued = 0;
}

Status GradientBuckets::Impl::WaitAndCopyOut(
    const std::vector<std::pair<std::size_t, std::shared_ptr<Work>>>& issued, bool copy_out,
    std::chrono::nanoseconds* waited) {
  Status first;
  *waited = std::chrono::nanoseconds(0);
  for (const auto& [index, work] : issued) {
    const auto start = std::chrono::steady_clock::now();
    Status status = work->Wait();
    *waited += std::chrono::steady_clock::now() - start;
    if (!status.ok() && first.ok()) {
      first = status.WithContext("gradient " + internal::DescribeBucket(index, buckets[index]));
    }
    // After a failure, the remaining buckets are only waited for: nothing may still write into
    // their buffers once Finish returns.
    if (!copy_out || !first.ok()) continue;
    for (std::size_t g : buckets[index].info.gradients) {
      first = CopyOut(grads[g]);
      if (!first.ok()) break;
    }
  }
  if (copy_out && first.ok()) first = memory->Flush();
  return first;
}

std::string_view WireDTypeName(WireDType wire) {
  switch (wire) {
    case WireDType::kNone:
      return "none";
    case WireDType::kBFloat16:
      return "bfloat16";
    case WireDType::kFloat16:
      return "float16";
  }
  return "?";
}

Result<WireDType> ParseWireDType(std::string_view name) {
  for (WireDType wire : {WireDType::kNone, WireDType::kBFloat16, WireDType::kFloat16}) {
    if (WireDTypeName(wire) == name) return wire;
  }
  return InvalidArgumentError("unknown wire dtype \"" + std::string(name) +
                              "\": use none, bfloat16 or float16");
}

Result<std::unique_ptr<GradientBuckets>> GradientBuckets::Create(
    Communicator* comm, const GradientBucketsOptions& options) {
  if (comm == nullptr) return InvalidArgumentError("GradientBuckets: the communicator is null");
  if (options.cap_bytes == 0 || options.first_cap_bytes == 0) {
    return InvalidArgumentError("GradientBuckets: cap_bytes (" + std::to_string(options.cap_bytes) +
                                ") and first_cap_bytes (" +
                                std::to_string(options.first_cap_bytes) + ") must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->comm = comm;
  impl->options = options;
  if (comm->options().device == Device::kCuda) {
    TRAIN_ASSIGN_OR_RETURN(impl->memory,
                           internal::NewCudaBucketMemory(comm->options().device_index));
  } else {
    impl->memory = internal::NewHostBucketMemory();
  }
  return std::unique_ptr<GradientBuckets>(new GradientBuckets(std::move(impl)));
}

GradientBuckets::GradientBuckets(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GradientBuckets::~GradientBuckets() {
  // The all-reduces in flight write into buffers and gradients this object points at.
  for (Bucket& bucket : impl_->buckets) {
    if (bucket.work) (void)bucket.work->Wait();
  }
}

Result<std::size_t> GradientBuckets::Register(std::string name, TensorView grad) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mu);
  const std::string what = "GradientBuckets::Register(\"" + name + "\")";
  if (s.fixed) {
    return FailedPreconditionError(what +
                                   ": the bucket layout is fixed (MarkReady, Finish or Layout "
                                   "was called): register every gradient before the first "
                                   "backward pass");
  }
  if (s.by_name.count(name) != 0) {
    return AlreadyExistsError(what + ": a gradient of that name is registered already (index " +
                              std::to_string(s.by_name[name]) + ")");
  }
  TRAIN_RETURN_IF_ERROR(internal::CheckTensor(what, "grad", grad, s.memory->device()));
  if (grad.device == Device::kCuda && grad.device_index != s.memory->device_index()) {
    return InvalidArgumentError(
        what + ": the gradient is on CUDA device " + std::to_string(grad.device_index) +
        " but the communicator uses device " + std::to_string(s.memory->device_index()));
  }
  const bool floating = grad.dtype == DType::kFloat32 || grad.dtype == DType::kFloat64 ||
                        grad.dtype == DType::kFloat16 || grad.dtype == DType::kBFloat16;
  if (s.options.wire_dtype != WireDType::kNone && !floating) {
    return InvalidArgumentError(what + ": the gradient is " + std::string(DTypeName(grad.dtype)) +
                                ", but wire compression to " +
                                std::string(WireDTypeName(s.options.wire_dtype)) +
                                " applies to floating-point gradients only");
  }
  const std::size_t index = s.grads.size();
  s.by_name.emplace(name, index);
  s.grads.push_back(Gradient{std::move(name), grad});
  return index;
}

Status GradientBuckets::MarkReady(std::string_view name) {
  TRAIN_ASSIGN_OR_RETURN(const std::size_t index, impl_->IndexOf("MarkReady", name));
  return MarkReady(index);
}

Status GradientBuckets::MarkReady(std::size_t index) {
  return impl_->Mark(index, /*unused=*/false);
}

Status GradientBuckets::MarkUnused(std::string_view name) {
  TRAIN_ASSIGN_OR_RETURN(const std::size_t index, impl_->IndexOf("MarkUnused", name));
  return MarkUnused(index);
}

Status GradientBuckets::MarkUnused(std::size_t index) {
  return impl_->Mark(index, /*unused=*/true);
}

Status GradientBuckets::Impl::Mark(std::size_t index, bool unused) {
  const char* method = unused ? "MarkUnused" : "MarkReady";
  const Gradient* grad = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    TRAIN_RETURN_IF_ERROR(CheckIndex(method, index));
    FixLayout();
    TRAIN_RETURN_IF_ERROR(AllocateBuffers());
    Gradient& g = grads[index];
    if (g.ready) {
      return FailedPreconditionError("GradientBuckets::" + std::string(method) + ": gradient \"" +
                                     g.name + "\" (index " + std::to_string(index) +
                                     ") was marked twice in one iteration; call Finish "
                                     "before the next backward pass");
    }
    g.ready = true;
    grad = &g;
  }
  // Gradients occupy disjoint parts of their bucket, so copies run outside the lock.
  Status copied = unused ? ZeroIn(*grad) : CopyIn(*grad);
  std::lock_guard<std::mutex> lock(mu);
  if (!copied.ok()) {
    grads[index].ready = false;  // Finish names it; its bucket is never issued
    return copied.WithContext("GradientBuckets::" + std::string(method) + "(\"" + grad->name +
                              "\")");
  }
  --buckets[grad->bucket].pending;
  IssueReadyBuckets();
  return Status::Ok();
}

Status GradientBuckets::Finish() {
  Impl& s = *impl_;
  std::vector<std::pair<std::size_t, std::shared_ptr<Work>>> issued;
  std::string missing;
  std::size_t missing_count = 0;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.FixLayout();
    for (const Gradient& grad : s.grads) {
      if (grad.ready) continue;
      if (++missing_count <= 8) missing += (missing.empty() ? "\"" : ", \"") + grad.name + "\"";
    }
    for (std::size_t i = 0; i < s.next_to_issue; ++i) issued.emplace_back(i, s.buckets[i].work);
    s.stats.issued_before_finish = s.next_to_issue;
  }
  // Gradients and buckets are not resized once the layout is fixed: the copies run unlocked.
  std::chrono::nanoseconds waited{0};
  Status status = s.WaitAndCopyOut(issued, /*copy_out=*/missing_count == 0, &waited);

  std::lock_guard<std::mutex> lock(s.mu);
  if (missing_count > 0) {
    if (missing_count > 8) missing += " and " + std::to_string(missing_count - 8) + " more";
    s.ResetIteration();
    return FailedPreconditionError(
        "GradientBuckets::Finish: " + std::to_string(missing_count) +
        " gradient(s) were not marked ready: " + missing +
        "; their buckets were not all-reduced, so the other ranks will time out (mark every "
        "gradient each iteration: MarkUnused for a parameter that took no part)");
  }
  if (status.ok()) {
    s.stats.finish_wait = waited;
    ++s.stats.iterations;
  }
  s.ResetIteration();
  return status;
}

Result<TensorView> GradientBuckets::GradientInBucket(std::string_view name) {
  TRAIN_ASSIGN_OR_RETURN(const std::size_t index, impl_->IndexOf("GradientInBucket", name));
  return GradientInBucket(index);
}

Result<TensorView> GradientBuckets::GradientInBucket(std::size_t index) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mu);
  TRAIN_RETURN_IF_ERROR(s.CheckIndex("GradientInBucket", index));
  s.FixLayout();
  TRAIN_RETURN_IF_ERROR(s.AllocateBuffers());
  Gradient& g = s.grads[index];
  const Bucket& bucket = s.buckets[g.bucket];
  if (bucket.info.in_place) return g.tensor;  // all-reduced where it lies already
  const std::string what = "GradientBuckets::GradientInBucket(\"" + g.name + "\")";
  if (bucket.flat.dtype != g.tensor.dtype) {
    return FailedPreconditionError(
        what + ": the gradient is " + std::string(DTypeName(g.tensor.dtype)) +
        " but its bucket holds " + std::string(DTypeName(bucket.flat.dtype)) + " (wire_dtype " +
        std::string(WireDTypeName(s.options.wire_dtype)) +
        "); gradients live in their buckets only without wire compression");
  }
  TensorView view = g.tensor;
  view.data = s.Slot(g);
  if (!g.in_bucket) {
    if (g.ready) {
      return FailedPreconditionError(what +
                                     ": the gradient was marked ready in this iteration; "
                                     "move it into its bucket before backward or after Finish");
    }
    // The bucket starts with the gradient's current values.
    TRAIN_RETURN_IF_ERROR(
        s.memory->CopyIn(g.tensor, view.data, bucket.flat.dtype).WithContext(what));
    g.in_bucket = true;
  }
  return view;
}

std::vector<GradientBucket> GradientBuckets::Layout() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->FixLayout();
  std::vector<GradientBucket> layout;
  for (const Bucket& bucket : impl_->buckets) layout.push_back(bucket.info);
  return layout;
}

GradientBucketStats GradientBuckets::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

}  // namespace train
