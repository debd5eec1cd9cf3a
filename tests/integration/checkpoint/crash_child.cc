// Saves checkpoints in a loop until killed: ckpt_crash_child DIR sync|async.
// Resumes from the newest checkpoint (checking it holds exactly its step's data), prints
// "ready STEP", then "saved STEP MICROS" after each Save returns. Exit 3: a wrong checkpoint.
#include <chrono>
#include <cstdio>
#include <cstring>

#include "step_data.h"
#include "train/checkpoint.h"

int main(int argc, char** argv) {
  using namespace checkpoint_test;
  if (argc != 3 || (std::strcmp(argv[2], "sync") != 0 && std::strcmp(argv[2], "async") != 0)) {
    std::fprintf(stderr, "usage: %s DIR sync|async\n", argv[0]);
    return 2;
  }
  train::CheckpointOptions options;
  options.keep_last = 2;
  options.async = std::strcmp(argv[2], "async") == 0;
  auto checkpointer = train::Checkpointer::Open(argv[1], nullptr, options);
  if (!checkpointer.ok()) {
    std::fprintf(stderr, "open: %s\n", checkpointer.status().ToString().c_str());
    return 1;
  }
  StepBuffers buffers;
  train::CheckpointState state;
  state.tensors = buffers.Tensors();
  std::int64_t step = 1;
  auto loaded = (*checkpointer)->LoadLatest(state);
  if (loaded.ok()) {
    const std::string mismatch = Mismatch(loaded->step, buffers, *loaded);
    if (!mismatch.empty()) {
      std::fprintf(stderr, "resumed from step %lld: %s\n", static_cast<long long>(loaded->step),
                   mismatch.c_str());
      return 3;
    }
    step = loaded->step + 1;
  } else if (loaded.status().code() != train::StatusCode::kNotFound) {
    std::fprintf(stderr, "load: %s\n", loaded.status().ToString().c_str());
    return 1;
  }
  std::printf("ready %lld\n", static_cast<long long>(step));
  std::fflush(stdout);
  for (;; ++step) {
    buffers.Fill(step);
    FillExtras(step, state);
    const auto start = std::chrono::steady_clock::now();
    const train::Status saved = (*checkpointer)->Save(step, state);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    if (!saved.ok()) {
      std::fprintf(stderr, "save %lld: %s\n", static_cast<long long>(step),
                   saved.ToString().c_str());
      return 1;
    }
    std::printf("saved %lld %lld\n", static_cast<long long>(step), static_cast<long long>(micros));
    std::fflush(stdout);
  }
}
