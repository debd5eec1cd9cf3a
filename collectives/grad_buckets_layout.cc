#include "grad_buckets_layout.h"

#include <algorithm>
#include <map>

namespace train::internal {
namespace {

struct OpenBucket {
  GradientBucket bucket;
  std::uint64_t bytes = 0;
  std::size_t last_position = 0;  // in backward order, of the gradient added last
};

}  // namespace

DType WireDTypeFor(DType dtype, WireDType wire) {
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) return dtype;
  switch (wire) {
    case WireDType::kNone:
      return dtype;
    case WireDType::kBFloat16:
      return DType::kBFloat16;
    case WireDType::kFloat16:
      return DType::kFloat16;
  }
  return dtype;
}

std::vector<GradientBucket> ComputeBucketLayout(const std::vector<GradientShape>& grads,
                                                const GradientBucketsOptions& options) {
  std::vector<OpenBucket> closed;
  std::map<DType, OpenBucket> open;
  std::map<DType, int> closed_per_dtype;
  auto close = [&](DType dtype) {
    closed.push_back(std::move(open[dtype]));
    open.erase(dtype);
    ++closed_per_dtype[dtype];
  };
  for (std::size_t position = 0; position < grads.size(); ++position) {
    const std::size_t index = grads.size() - 1 - position;  // backward order
    const GradientShape& grad = grads[index];
    OpenBucket& bucket = open[grad.dtype];
    bucket.bucket.dtype = grad.dtype;
    bucket.bucket.gradients.push_back(index);
    bucket.bucket.numel += grad.numel;
    bucket.bytes += grad.numel * DTypeSize(grad.dtype);
    bucket.last_position = position;
    const std::size_t cap =
        closed_per_dtype[grad.dtype] == 0 ? options.first_cap_bytes : options.cap_bytes;
    if (bucket.bytes >= cap) close(grad.dtype);
  }
  while (!open.empty()) close(open.begin()->first);
  // A bucket can be all-reduced once its last gradient is ready: order by that moment.
  std::stable_sort(closed.begin(), closed.end(), [](const OpenBucket& a, const OpenBucket& b) {
    return a.last_position < b.last_position;
  });

  std::vector<GradientBucket> layout;
  layout.reserve(closed.size());
  for (OpenBucket& open_bucket : closed) {
    GradientBucket& bucket = open_bucket.bucket;
    const DType wire = WireDTypeFor(bucket.dtype, options.wire_dtype);
    bucket.wire_bytes = bucket.numel * DTypeSize(wire);
    bucket.in_place = bucket.gradients.size() == 1 && wire == bucket.dtype;
    layout.push_back(std::move(bucket));
  }
  return layout;
}

}  // namespace train::internal
