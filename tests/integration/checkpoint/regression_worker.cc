// A small deterministic training job for the resume test: linear regression on synthetic data,
// gradients averaged with a deterministic all-reduce, AdamW, a sharded sampler, a per-rank RNG
// that jitters the gradients, all wired to checkpoints through train::Trainer.
//
//   regression_worker --steps 60 --every 5 --out FINAL [--die-at STEP --die-rank R --marker F]
//
// Rank 0 writes the final parameters' bytes as hex to FINAL. With --die-at, rank R SIGKILLs
// itself at that step once (the marker file remembers it across the launcher's restart).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "train/communicator.h"
#include "train/log.h"
#include "train/optimizer.h"
#include "train/sampler.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace {

constexpr int kFeatures = 8;
constexpr std::uint64_t kSamples = 512;
constexpr std::size_t kBatchPerRank = 8;

struct Flags {
  std::int64_t steps = 60;
  std::int64_t every = 5;
  std::string out;
  std::int64_t die_at = -1;
  int die_rank = 1;
  std::string marker;
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    if (name == "--steps")
      flags.steps = std::stoll(value);
    else if (name == "--every")
      flags.every = std::stoll(value);
    else if (name == "--out")
      flags.out = value;
    else if (name == "--die-at")
      flags.die_at = std::stoll(value);
    else if (name == "--die-rank")
      flags.die_rank = std::stoi(value);
    else if (name == "--marker")
      flags.marker = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", name.c_str());
      std::exit(2);
    }
  }
  return flags;
}

// Sample i: features and target, the same in every process.
void Sample(std::uint64_t i, float* x, float* y) {
  std::mt19937_64 gen(1000 + i);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  float target = 0.5f;
  for (int f = 0; f < kFeatures; ++f) {
    x[f] = uniform(gen);
    target += static_cast<float>(f + 1) * 0.25f * x[f];
  }
  *y = target + 0.01f * uniform(gen);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  auto worker = train::Worker::Init();
  TRAIN_CHECK_OK(worker.status());
  train::CommunicatorOptions comm_options;
  comm_options.backend = train::CommBackend::kCpu;
  comm_options.deterministic = true;
  auto comm = train::Communicator::Create(**worker, comm_options);
  TRAIN_CHECK_OK(comm.status());
  const int rank = (*comm)->rank();

  std::vector<float> weights(kFeatures + 1, 0.0f);  // the last one is the bias
  std::vector<float> grads(weights.size(), 0.0f);
  train::ParamGroup group;
  group.params = {{weights.data(), train::DType::kFloat32, weights.size()}};
  group.grads = {{grads.data(), train::DType::kFloat32, grads.size()}};
  group.lr = 0.05;
  train::OptimizerOptions optimizer_options;
  optimizer_options.kind = train::OptimizerKind::kAdamW;
  optimizer_options.num_threads = 1;
  auto optimizer = train::FusedOptimizer::Create(optimizer_options, {group});
  TRAIN_CHECK_OK(optimizer.status());

  train::SamplerOptions sampler_options;
  sampler_options.num_samples = kSamples;
  sampler_options.seed = 7;
  auto sampler = train::ShardedSampler::Create(sampler_options, rank, (*comm)->world_size());
  TRAIN_CHECK_OK(sampler.status());
  std::mt19937_64 jitter(static_cast<std::uint64_t>(rank) + 99);

  train::TrainerOptions trainer_options;
  trainer_options.every_steps = flags.every;
  auto trainer = train::Trainer::Create(**worker, comm->get(), trainer_options);
  TRAIN_CHECK_OK(trainer.status());
  train::CheckpointTensor weights_tensor;
  weights_tensor.name = "linear/weights";
  weights_tensor.data = group.params[0];
  (*trainer)->AddTensor(weights_tensor);
  (*trainer)->SetOptimizer(optimizer->get());
  (*trainer)->SetSampler(&*sampler, sampler_options);
  (*trainer)->AddRng("jitter", &jitter);
  auto done = (*trainer)->Resume();
  TRAIN_CHECK_OK(done.status());
  train::LogInfo("starting after step " + std::to_string(*done));

  for (std::int64_t step = *done + 1; step <= flags.steps; ++step) {
    if (step == flags.die_at && rank == flags.die_rank && !flags.marker.empty() &&
        !std::filesystem::exists(flags.marker)) {
      std::ofstream(flags.marker) << "died at step " << step << "\n";
      raise(SIGKILL);
    }
    if (sampler->epoch_done()) sampler->StartNextEpoch();
    const std::vector<std::uint64_t> batch = sampler->NextBatch(kBatchPerRank);
    std::fill(grads.begin(), grads.end(), 0.0f);
    for (std::uint64_t i : batch) {
      float x[kFeatures], y;
      Sample(i, x, &y);
      float prediction = weights[kFeatures];
      for (int f = 0; f < kFeatures; ++f) prediction += weights[f] * x[f];
      const float error = prediction - y;
      for (int f = 0; f < kFeatures; ++f) grads[f] += 2.0f * error * x[f] / kBatchPerRank;
      grads[kFeatures] += 2.0f * error / kBatchPerRank;
    }
    // Jitter from the rank's RNG, so that a generator restored wrong changes the result.
    std::uniform_real_distribution<float> noise(-1e-3f, 1e-3f);
    for (float& g : grads) g += noise(jitter);
    TRAIN_CHECK_OK((*comm)->AllReduce(group.grads[0], train::ReduceOp::kAvg)->Wait());
    TRAIN_CHECK_OK((*optimizer)->Step().status());
    TRAIN_CHECK_OK((*trainer)->EndStep(step));
  }
  TRAIN_CHECK_OK((*trainer)->Finish());

  if (rank == 0 && !flags.out.empty()) {
    std::string hex;
    const auto* bytes = reinterpret_cast<const unsigned char*>(weights.data());
    for (std::size_t i = 0; i < weights.size() * sizeof(float); ++i) {
      char pair[3];
      std::snprintf(pair, sizeof(pair), "%02x", bytes[i]);
      hex += pair;
    }
    std::ofstream(flags.out) << hex << "\n";
  }
  return 0;
}
