// A worker for the preemption tests: trains through train::Trainer over a Communicator (so that
// every rank agrees on the step to save), with a state as large as asked, and stops the way the
// header of train/trainer.h says a program should when preemption is requested.
//
//   --steps N        train N steps; each prints "step S" when it ended
//   --every E        a checkpoint every E steps (synchronous)
//   --state-mib M    M MiB of state besides the step counter (a slow save)
//   --step-ms T      each step takes T ms
//   --pid-dir D      write D/rank-N.pid once training starts
//   --checkpoint-dir D  checkpoints go there (default: the job's, TRAIN_CHECKPOINT_DIR)
//
// Prints "start step S" (the step it resumed), "preempted after saving step S" and exits 75
// when preempted, "trained to step N" and exits 0 at the end.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "train/communicator.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace {

int Fail(const std::string& what, const train::Status& status) {
  std::cerr << "preempt_worker: " << what << ": " << status << std::endl;
  return 5;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t steps = 100, every = 10, state_mib = 0, step_ms = 0;
  std::string pid_dir, checkpoint_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--steps") {
      steps = std::stoll(value);
    } else if (arg == "--every") {
      every = std::stoll(value);
    } else if (arg == "--state-mib") {
      state_mib = std::stoll(value);
    } else if (arg == "--step-ms") {
      step_ms = std::stoll(value);
    } else if (arg == "--pid-dir") {
      pid_dir = value;
    } else if (arg == "--checkpoint-dir") {
      checkpoint_dir = value;
    } else {
      std::cerr << "preempt_worker: unknown flag " << arg << "\n";
      return 2;
    }
    ++i;
  }
  auto worker = train::Worker::Init();
  if (!worker.ok()) return Fail("joining the job", worker.status());
  std::unique_ptr<train::Communicator> comm;
  if ((*worker)->world_size() > 1) {
    auto created = train::Communicator::Create(**worker);
    if (!created.ok()) return Fail("creating the communicator", created.status());
    comm = std::move(*created);
  }
  train::TrainerOptions options;
  options.checkpoint_dir = checkpoint_dir;
  options.every_steps = every;
  options.async = false;
  auto trainer = train::Trainer::Create(**worker, comm.get(), options);
  if (!trainer.ok()) return Fail("creating the trainer", trainer.status());
  // The step counter, and a large state whose first element follows it.
  std::int64_t counter = 0;
  std::vector<float> state(static_cast<std::size_t>(state_mib) << 18, 1.0f);
  (*trainer)->AddTensor({"counter", {&counter, train::DType::kInt64, 1}, {}});
  if (!state.empty()) {
    (*trainer)->AddTensor({"state", {state.data(), train::DType::kFloat32, state.size()}, {}});
  }
  auto done = (*trainer)->Resume();
  if (!done.ok()) return Fail("resuming", done.status());
  std::cout << "start step " << *done << " counter " << counter << std::endl;
  if (!pid_dir.empty()) {
    std::ofstream(pid_dir + "/rank-" + std::to_string((*worker)->rank()) + ".pid") << getpid();
  }
  for (std::int64_t step = *done + 1; step <= steps; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
    counter = step;
    if (!state.empty()) state[0] = static_cast<float>(step);
    if (auto ended = (*trainer)->EndStep(step); !ended.ok()) return Fail("ending a step", ended);
    if ((*trainer)->PreemptionRequested()) {
      std::cout << "preempted after saving step " << (*trainer)->preempted_step() << std::endl;
      return train::kExitPreempted;
    }
    std::cout << "step " << step << std::endl;
  }
  std::cout << "trained to step " << steps << std::endl;
  return 0;
}
