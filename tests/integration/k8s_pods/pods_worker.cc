// The training program of the pod tests: a few numbers updated each step from an all-reduce
// (exact integer arithmetic in float, so the test can compute the right final values), a
// checkpoint every few steps through train::Trainer, and a pause per step so that the test
// can kill a pod mid-training.
//
//   pods_worker --steps 40 --step-ms 100 --out FINAL
//
// Every rank prints "resumed after step N" and "step S"; rank 0 writes the final values to
// FINAL as space-separated integers.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "train/communicator.h"
#include "train/log.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace {

constexpr int kValues = 4;
constexpr float kModulus = 1009.0f;

}  // namespace

int main(int argc, char** argv) {
  std::int64_t steps = 40;
  int step_ms = 100;
  std::string out;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    if (name == "--steps") {
      steps = std::stoll(value);
    } else if (name == "--step-ms") {
      step_ms = std::stoi(value);
    } else if (name == "--out") {
      out = value;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", name.c_str());
      return 2;
    }
  }
  auto worker = train::Worker::Init();
  TRAIN_CHECK_OK(worker.status());
  train::CommunicatorOptions comm_options;
  comm_options.backend = train::CommBackend::kCpu;
  auto comm = train::Communicator::Create(**worker, comm_options);
  TRAIN_CHECK_OK(comm.status());
  const int rank = (*comm)->rank();

  std::vector<float> values(kValues, 0.0f);
  std::vector<float> sums(kValues, 0.0f);
  auto trainer = train::Trainer::Create(**worker, comm->get());
  TRAIN_CHECK_OK(trainer.status());
  train::CheckpointTensor tensor;
  tensor.name = "values";
  tensor.data = {values.data(), train::DType::kFloat32, values.size()};
  (*trainer)->AddTensor(tensor);
  auto done = (*trainer)->Resume();
  TRAIN_CHECK_OK(done.status());
  std::printf("resumed after step %lld\n", static_cast<long long>(*done));
  std::fflush(stdout);

  for (std::int64_t step = *done + 1; step <= steps; ++step) {
    for (int i = 0; i < kValues; ++i) sums[i] = static_cast<float>((step + i + rank) % 7);
    TRAIN_CHECK_OK(
        (*comm)
            ->AllReduce({sums.data(), train::DType::kFloat32, sums.size()}, train::ReduceOp::kSum)
            ->Wait());
    // Depends on the whole history: a wrong or missing restore changes the result.
    for (int i = 0; i < kValues; ++i) values[i] = std::fmod(values[i] * 3.0f + sums[i], kModulus);
    TRAIN_CHECK_OK((*trainer)->EndStep(step));
    std::printf("step %lld\n", static_cast<long long>(step));
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
  }
  TRAIN_CHECK_OK((*trainer)->Finish());
  if (rank == 0 && !out.empty()) {
    std::ofstream file(out);
    for (int i = 0; i < kValues; ++i) file << (i ? " " : "") << static_cast<long long>(values[i]);
    file << "\n";
  }
  return 0;
}
