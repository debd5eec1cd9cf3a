// HostStaging in a build without CUDA: host tensors pass through, device tensors are refused
// with what to do instead. The build compiles this file or host_staging_cuda.cc.
#include <cstring>

#include "host_staging.h"

namespace train::internal {

namespace {
Status NoCuda(const std::string& name) {
  return FailedPreconditionError("checkpoint tensor '" + name +
                                 "' is in CUDA memory, but libtrain was built without CUDA; "
                                 "copy it to host memory first or use a CUDA build");
}
}  // namespace

struct HostStaging::Impl {};
HostStaging::HostStaging() = default;
HostStaging::~HostStaging() = default;

Result<const void*> HostStaging::HostPointer(const TensorView& view, const std::string& name) {
  if (view.device == Device::kCpu || view.bytes() == 0) return static_cast<const void*>(view.data);
  return NoCuda(name);
}

Status HostStaging::CopyToView(const void* host, const TensorView& view, const std::string& name) {
  if (view.bytes() == 0) return Status::Ok();
  if (view.device != Device::kCpu) return NoCuda(name);
  std::memcpy(view.data, host, view.bytes());
  return Status::Ok();
}

}  // namespace train::internal
