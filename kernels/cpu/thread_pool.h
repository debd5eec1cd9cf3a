// A persistent pool for the CPU optimizer: workers live as long as the optimizer, so a step
// costs two wake-ups, not thread creation.
#ifndef TRAIN_KERNELS_CPU_THREAD_POOL_H_
#define TRAIN_KERNELS_CPU_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace train::cpu {

class ThreadPool {
 public:
  // `num_threads` counts the calling thread, which takes tasks too; 1 runs everything inline.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs task(0) ... task(count - 1), each once, and returns when all have finished. Tasks are
  // taken in order from a shared counter, so which thread runs a task never changes a result
  // as long as tasks write disjoint memory.
  void ParallelFor(std::size_t count, const std::function<void(std::size_t)>& task);

 private:
  void WorkerLoop();
  void RunTasks();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::uint64_t generation_ = 0;  // guarded by mu_
  int busy_ = 0;                  // workers still in the current generation; guarded by mu_
  bool stop_ = false;             // guarded by mu_
  const std::function<void(std::size_t)>* task_ = nullptr;
  std::size_t count_ = 0;
  std::atomic<std::size_t> next_{0};
};

}  // namespace train::cpu

#endif  // TRAIN_KERNELS_CPU_THREAD_POOL_H_
