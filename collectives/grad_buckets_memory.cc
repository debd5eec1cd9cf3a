#include "grad_buckets_memory.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "grad_buckets_wire.h"

namespace train::internal {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

class HostBucketMemory : public BucketMemory {
 public:
  Device device() const override { return Device::kCpu; }
  int device_index() const override { return 0; }

  // Cache-line aligned, so that the reductions see aligned vectors.
  Result<void*> Allocate(std::uint64_t bytes) override {
    constexpr std::uint64_t kAlign = 64;
    const std::uint64_t rounded = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
    void* data = std::aligned_alloc(kAlign, rounded);
    if (data == nullptr) {
      return ResourceExhaustedError("GradientBuckets: could not allocate a bucket of " +
                                    std::to_string(bytes) + " bytes of host memory");
    }
    buffers_.emplace_back(data);
    return data;
  }

  Status CopyIn(const TensorView& grad, void* wire, DType wire_dtype) override {
    if (wire_dtype == grad.dtype) {
      std::memcpy(wire, grad.data, grad.bytes());
    } else {
      NarrowToWire(grad.dtype, grad.data, wire_dtype, wire, grad.numel);
    }
    return Status::Ok();
  }

  Status CopyOut(const void* wire, DType wire_dtype, const TensorView& grad) override {
    if (wire_dtype == grad.dtype) {
      std::memcpy(grad.data, wire, grad.bytes());
    } else {
      WidenFromWire(wire_dtype, wire, grad.dtype, grad.data, grad.numel);
    }
    return Status::Ok();
  }

  Status Zero(void* data, std::uint64_t bytes) override {
    std::memset(data, 0, bytes);
    return Status::Ok();
  }

  Status Flush() override { return Status::Ok(); }

 private:
  std::vector<std::unique_ptr<void, FreeDeleter>> buffers_;
};

}  // namespace

std::unique_ptr<BucketMemory> NewHostBucketMemory() { return std::make_unique<HostBucketMemory>(); }

}  // namespace train::internal
