// Where train-bench allreduce keeps its buffers: host memory for the CPU and MPI backends,
// device memory for NCCL.
#ifndef BENCH_ALLREDUCE_MEMORY_H_
#define BENCH_ALLREDUCE_MEMORY_H_

#include <cstdint>
#include <memory>

#include "train/status.h"
#include "train/tensor.h"

namespace bench {

class AllreduceMemory {
 public:
  virtual ~AllreduceMemory() = default;
  virtual train::Device device() const = 0;
  virtual int device_index() const = 0;
  // Zeroed (so its pages are mapped before anything is timed), 64-byte aligned, owned by this
  // object.
  virtual void* Allocate(std::uint64_t bytes) = 0;
  // Copies between host memory and memory from Allocate.
  virtual void Upload(void* dst, const void* src, std::uint64_t bytes) = 0;
  virtual void Download(void* dst, const void* src, std::uint64_t bytes) = 0;
};

std::unique_ptr<AllreduceMemory> NewHostMemory();
// CUDA device `device_index`; an error when this build has no CUDA or the device is missing.
train::Result<std::unique_ptr<AllreduceMemory>> NewCudaMemory(int device_index);

}  // namespace bench

#endif  // BENCH_ALLREDUCE_MEMORY_H_
