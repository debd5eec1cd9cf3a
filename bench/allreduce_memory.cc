#include "allreduce_memory.h"

#include <cstdlib>
#include <cstring>
#include <vector>

namespace bench {
namespace {

class HostMemory : public AllreduceMemory {
 public:
  ~HostMemory() override {
    for (void* p : blocks_) std::free(p);
  }
  train::Device device() const override { return train::Device::kCpu; }
  int device_index() const override { return 0; }
  void* Allocate(std::uint64_t bytes) override {
    const std::uint64_t rounded = (bytes + 63) / 64 * 64 + 64;
    void* p = std::aligned_alloc(64, rounded);
    std::memset(p, 0, rounded);
    blocks_.push_back(p);
    return p;
  }
  void Upload(void* dst, const void* src, std::uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void Download(void* dst, const void* src, std::uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
  }

 private:
  std::vector<void*> blocks_;
};

}  // namespace

std::unique_ptr<AllreduceMemory> NewHostMemory() { return std::make_unique<HostMemory>(); }

}  // namespace bench
