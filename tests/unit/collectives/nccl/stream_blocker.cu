#include <cuda_runtime.h>

#include "stream_blocker.h"
#include "train/status.h"

namespace train::testing {
namespace {

__device__ unsigned long long GlobalNanoseconds() {
  unsigned long long now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  return now;
}

__global__ void HoldUntilReleased(volatile int* flag, unsigned long long limit_ns) {
  const unsigned long long start = GlobalNanoseconds();
  while (*flag == 0 && GlobalNanoseconds() - start < limit_ns) __nanosleep(1000);
}

}  // namespace

StreamBlocker::StreamBlocker() {
  void* host = nullptr;
  TRAIN_CHECK_EQ(cudaHostAlloc(&host, sizeof(int), cudaHostAllocMapped), cudaSuccess);
  flag_ = static_cast<volatile int*>(host);
  *flag_ = 0;
  void* device = nullptr;
  TRAIN_CHECK_EQ(cudaHostGetDevicePointer(&device, host, 0), cudaSuccess);
  HoldUntilReleased<<<1, 1>>>(static_cast<volatile int*>(device), 60ull * 1000 * 1000 * 1000);
  TRAIN_CHECK_EQ(cudaGetLastError(), cudaSuccess);
}

StreamBlocker::~StreamBlocker() {
  Release();
  TRAIN_CHECK_EQ(cudaDeviceSynchronize(), cudaSuccess);
  TRAIN_CHECK_EQ(cudaFreeHost(const_cast<int*>(flag_)), cudaSuccess);
}

void StreamBlocker::Release() { *flag_ = 1; }

}  // namespace train::testing
