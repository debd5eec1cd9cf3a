// train::Trainer in one process: what it saves, when, and that Resume restores all of it.
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <vector>

#include "../../scratch_dir.h"
#include "train/checkpoint.h"
#include "train/worker.h"

namespace {

namespace fs = std::filesystem;
using ::train::testing::ScratchDir;

// A tiny model: parameters, an SGD-with-momentum optimizer, a sampler and an RNG.
struct Model {
  std::vector<float> params = std::vector<float>(64, 1.0f);
  std::vector<float> grads = std::vector<float>(64, 0.0f);
  std::unique_ptr<train::FusedOptimizer> optimizer;
  train::SamplerOptions sampler_options;
  train::ShardedSampler sampler = train::ShardedSampler::Create({100, 3}, 0, 1).value();
  std::mt19937_64 rng{42};

  Model() {
    train::ParamGroup group;
    group.params = {{params.data(), train::DType::kFloat32, params.size()}};
    group.grads = {{grads.data(), train::DType::kFloat32, grads.size()}};
    group.lr = 0.1;
    group.momentum = 0.9;
    train::OptimizerOptions options;
    options.kind = train::OptimizerKind::kSgd;
    optimizer = train::FusedOptimizer::Create(options, {group}).value();
    sampler_options.num_samples = 100;
    sampler_options.seed = 3;
  }

  void Register(train::Trainer& trainer) {
    train::CheckpointTensor tensor;
    tensor.name = "params";
    tensor.data = {params.data(), train::DType::kFloat32, params.size()};
    trainer.AddTensor(tensor);
    trainer.SetOptimizer(optimizer.get());
    trainer.SetSampler(&sampler, sampler_options);
    trainer.AddRng("noise", &rng);
  }

  // One step: gradients from the sampled indices and the RNG.
  void Step() {
    const auto batch = sampler.NextBatch(4);
    if (sampler.epoch_done()) sampler.StartNextEpoch();
    for (std::size_t i = 0; i < grads.size(); ++i) {
      grads[i] = static_cast<float>(batch.empty() ? 0 : batch[i % batch.size()]) * 1e-3f +
                 static_cast<float>(rng() % 1000) * 1e-6f;
    }
    ASSERT_TRUE(optimizer->Step().ok());
  }
};

std::unique_ptr<train::Worker> StandaloneWorker() {
  auto worker = train::Worker::Init(train::WorkerEnv{});
  EXPECT_TRUE(worker.ok()) << worker.status();
  return std::move(*worker);
}

train::TrainerOptions SyncEvery(const fs::path& dir, std::int64_t every) {
  train::TrainerOptions options;
  options.checkpoint_dir = dir.string();
  options.every_steps = every;
  options.async = false;
  return options;
}

TEST(Trainer, WithoutACheckpointDirectoryResumeStartsAtZeroAndEndStepSavesNothing) {
  auto worker = StandaloneWorker();
  auto trainer = train::Trainer::Create(*worker, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_FALSE((*trainer)->checkpointing());
  auto resumed = (*trainer)->Resume();
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 0);
  EXPECT_TRUE((*trainer)->EndStep(1000).ok());
  EXPECT_EQ((*trainer)->Save(5).code(), train::StatusCode::kFailedPrecondition);
}

TEST(Trainer, RejectsNegativeEveryStepsAndKeep) {
  auto worker = StandaloneWorker();
  train::TrainerOptions options;
  options.every_steps = -1;
  EXPECT_EQ(train::Trainer::Create(*worker, nullptr, options).status().code(),
            train::StatusCode::kInvalidArgument);
  options.every_steps = 1;
  options.keep = -2;
  EXPECT_EQ(train::Trainer::Create(*worker, nullptr, options).status().code(),
            train::StatusCode::kInvalidArgument);
}

TEST(Trainer, UnsetSettingsComeFromTheJobThenTheSpecDefaults) {
  train::WorkerEnv env;
  env.checkpoint_every_steps = 7;
  env.checkpoint_keep = 2;
  env.checkpoint_async = false;
  auto worker = train::Worker::Init(env);
  ASSERT_TRUE(worker.ok()) << worker.status();
  auto trainer = train::Trainer::Create(**worker, nullptr, {});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_EQ((*trainer)->options().every_steps, 7);
  EXPECT_EQ((*trainer)->options().keep, 2);
  EXPECT_EQ((*trainer)->options().async, false);
  auto plain = StandaloneWorker();
  auto defaults = train::Trainer::Create(*plain, nullptr, {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ((*defaults)->options().every_steps, 1000);
  EXPECT_EQ((*defaults)->options().keep, 3);
  EXPECT_EQ((*defaults)->options().async, true);
}

TEST(Trainer, SavesEveryNStepsAndKeepsTheNewest) {
  ScratchDir dir;
  auto worker = StandaloneWorker();
  train::TrainerOptions options = SyncEvery(dir.path() / "ckpt", 3);
  options.keep = 2;
  auto trainer = train::Trainer::Create(*worker, nullptr, options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  Model model;
  model.Register(**trainer);
  ASSERT_EQ((*trainer)->Resume().value(), 0);
  for (std::int64_t step = 1; step <= 10; ++step) {
    model.Step();
    ASSERT_TRUE((*trainer)->EndStep(step).ok());
  }
  ASSERT_TRUE((*trainer)->Finish().ok());
  auto list = train::ListCheckpoints((dir.path() / "ckpt").string());
  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::int64_t> steps;
  for (const auto& info : *list) steps.push_back(info.step);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{9, 6}));
}

// Runs `steps` steps from a fresh model, resuming from `dir` first; returns the parameters.
std::vector<float> Train(const fs::path& dir, std::int64_t steps, bool async,
                         std::int64_t* resumed_at = nullptr) {
  auto worker = StandaloneWorker();
  train::TrainerOptions options = SyncEvery(dir, 4);
  options.async = async;
  auto trainer = train::Trainer::Create(*worker, nullptr, options);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  Model model;
  model.Register(**trainer);
  auto done = (*trainer)->Resume();
  EXPECT_TRUE(done.ok()) << done.status();
  if (resumed_at != nullptr) *resumed_at = *done;
  for (std::int64_t step = *done + 1; step <= steps; ++step) {
    model.Step();
    EXPECT_TRUE((*trainer)->EndStep(step).ok());
  }
  EXPECT_TRUE((*trainer)->Finish().ok());
  return model.params;
}

TEST(Trainer, ResumeRestoresParametersOptimizerSamplerAndRngBitwise) {
  for (bool async : {false, true}) {
    SCOPED_TRACE(async ? "async" : "sync");
    ScratchDir dir;
    const std::vector<float> uninterrupted = Train(dir.path() / "straight", 22, async);
    // Stop after 10 steps (the checkpoint of step 8 remains), then go on to 22.
    Train(dir.path() / "stopped", 10, async);
    std::int64_t resumed_at = -1;
    const std::vector<float> resumed = Train(dir.path() / "stopped", 22, async, &resumed_at);
    EXPECT_EQ(resumed_at, 8);
    EXPECT_EQ(resumed, uninterrupted);
  }
}

// Memory snapshots every `memory_every` steps in `memory_dir`, disk checkpoints (when `disk` is
// not empty) every 8; runs to `steps` and returns what Resume returned.
std::int64_t TrainWithMemory(const fs::path& memory_dir, const fs::path& disk,
                             std::int64_t memory_every, std::int64_t steps,
                             std::vector<float>* params) {
  auto worker = StandaloneWorker();
  train::TrainerOptions options;
  if (!disk.empty()) options = SyncEvery(disk, 8);
  options.memory_every_steps = memory_every;
  options.memory_dir = memory_dir.string();
  auto trainer = train::Trainer::Create(*worker, nullptr, options);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  if (!trainer.ok()) return -1;
  EXPECT_TRUE((*trainer)->memory_snapshots());
  Model model;
  model.Register(**trainer);
  auto done = (*trainer)->Resume();
  EXPECT_TRUE(done.ok()) << done.status();
  if (!done.ok()) return -1;
  for (std::int64_t step = *done + 1; step <= steps; ++step) {
    model.Step();
    EXPECT_TRUE((*trainer)->EndStep(step).ok());
  }
  EXPECT_TRUE((*trainer)->Finish().ok());
  *params = model.params;
  return *done;
}

TEST(TrainerMemory, AProcessRestartResumesFromTheLastStepWithoutADiskCheckpoint) {
  ScratchDir dir;
  std::vector<float> straight, stopped, resumed;
  TrainWithMemory(dir.path() / "straight-memory", "", 1, 22, &straight);
  TrainWithMemory(dir.path() / "memory", "", 1, 13, &stopped);
  EXPECT_EQ(TrainWithMemory(dir.path() / "memory", "", 1, 22, &resumed), 13);
  EXPECT_EQ(resumed, straight);
}

TEST(TrainerMemory, TheNewerOfDiskAndMemoryWins) {
  ScratchDir dir;
  std::vector<float> straight, params;
  TrainWithMemory(dir.path() / "m0", dir.path() / "d0", 5, 30, &straight);
  // Memory every 5 (last 15), disk every 8 (last 16) after 17 steps: disk's 16 wins.
  TrainWithMemory(dir.path() / "m1", dir.path() / "d1", 5, 17, &params);
  EXPECT_EQ(TrainWithMemory(dir.path() / "m1", dir.path() / "d1", 5, 30, &params), 16);
  EXPECT_EQ(params, straight);
  // After 21 steps: memory's 20 wins over disk's 16.
  TrainWithMemory(dir.path() / "m2", dir.path() / "d2", 5, 21, &params);
  EXPECT_EQ(TrainWithMemory(dir.path() / "m2", dir.path() / "d2", 5, 30, &params), 20);
  EXPECT_EQ(params, straight);
}

TEST(TrainerMemory, AskedForWithoutADirectoryTheyAreOffNotAnError) {
  auto worker = StandaloneWorker();
  train::TrainerOptions options;
  options.memory_every_steps = 1;
  auto trainer = train::Trainer::Create(*worker, nullptr, options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_FALSE((*trainer)->memory_snapshots());
  options.memory_every_steps = -1;
  EXPECT_EQ(train::Trainer::Create(*worker, nullptr, options).status().code(),
            train::StatusCode::kInvalidArgument);
}

// Runs `steps` steps of run `run_id` under `root` with `policy`; returns what Resume returned.
std::int64_t RunOf(const fs::path& root, const std::string& run_id, std::int64_t steps,
                   train::TrainerOptions::ResumePolicy policy, std::vector<float>* params = nullptr,
                   const std::string& resume_from = "") {
  auto worker = StandaloneWorker();
  train::TrainerOptions options = SyncEvery(root, 4);
  options.run_id = run_id;
  options.resume = policy;
  options.resume_from = resume_from;
  auto trainer = train::Trainer::Create(*worker, nullptr, options);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  if (!trainer.ok()) return -1;
  Model model;
  model.Register(**trainer);
  auto done = (*trainer)->Resume();
  EXPECT_TRUE(done.ok()) << done.status();
  if (!done.ok()) return -1;
  for (std::int64_t step = *done + 1; step <= steps; ++step) {
    model.Step();
    EXPECT_TRUE((*trainer)->EndStep(step).ok());
  }
  EXPECT_TRUE((*trainer)->Finish().ok());
  if (params != nullptr) *params = model.params;
  return *done;
}

using Policy = train::TrainerOptions::ResumePolicy;

TEST(TrainerRuns, EachRunHasADirectoryOfItsOwnAndANewRunStartsAtStepZero) {
  ScratchDir dir;
  EXPECT_EQ(RunOf(dir.path(), "first", 10, Policy::kAuto), 0);
  EXPECT_TRUE(fs::exists(dir.path() / "run-first" / "step-8"));
  // The first run's final checkpoint is not this run's: it trains from the start.
  EXPECT_EQ(RunOf(dir.path(), "second", 10, Policy::kAuto), 0);
  EXPECT_TRUE(fs::exists(dir.path() / "run-second" / "step-8"));
  // A restart of a run (the same launch id) resumes that run's newest checkpoint.
  EXPECT_EQ(RunOf(dir.path(), "second", 10, Policy::kAuto), 8);
}

TEST(TrainerRuns, TheRunIdComesFromTheLaunchersEnvironment) {
  ScratchDir dir;
  train::WorkerEnv env;
  env.launcher = train::Launcher::kTrainctl;
  env.launch_id = "20261123-104631-8160";
  env.checkpoint_dir = dir.path().string();
  env.checkpoint_resume = "auto";
  auto worker = train::Worker::Init(env);
  ASSERT_TRUE(worker.ok()) << worker.status();
  auto trainer = train::Trainer::Create(**worker, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_EQ((*trainer)->options().checkpoint_dir,
            (dir.path() / "run-20261123-104631-8160").string());
  EXPECT_EQ((*trainer)->options().resume, Policy::kAuto);
}

TEST(TrainerRuns, AlwaysContinuesTheNewestEarlierRunBitwise) {
  ScratchDir dir;
  std::vector<float> uninterrupted, continued;
  RunOf(dir.path() / "straight", "whole", 22, Policy::kAuto, &uninterrupted);
  EXPECT_EQ(RunOf(dir.path(), "first", 10, Policy::kAuto), 0);
  EXPECT_EQ(RunOf(dir.path(), "second", 22, Policy::kAlways, &continued), 8);
  EXPECT_EQ(continued, uninterrupted);
  // The continuation checkpoints into its own directory; the earlier run's stays as it was.
  EXPECT_TRUE(fs::exists(dir.path() / "run-second" / "step-20"));
  EXPECT_FALSE(fs::exists(dir.path() / "run-first" / "step-12"));
}

TEST(TrainerRuns, AlwaysWithNoEarlierRunStartsAtZero) {
  ScratchDir dir;
  EXPECT_EQ(RunOf(dir.path(), "only", 5, Policy::kAlways), 0);
}

TEST(TrainerRuns, ResumeFromNamesOneCheckpoint) {
  ScratchDir dir;
  RunOf(dir.path(), "first", 10, Policy::kAuto);
  EXPECT_EQ(RunOf(dir.path(), "second", 10, Policy::kDefault, nullptr,
                  (dir.path() / "run-first" / "step-4").string()),
            4);
  EXPECT_EQ(RunOf(dir.path(), "third", 10, Policy::kDefault, nullptr,
                  (dir.path() / "run-first").string()),
            8);
}

TEST(TrainerRuns, NeverStartsAtZeroEvenAfterARestart) {
  ScratchDir dir;
  RunOf(dir.path(), "same", 10, Policy::kAuto);
  auto worker = StandaloneWorker();
  train::TrainerOptions options = SyncEvery(dir.path(), 4);
  options.run_id = "same";
  options.resume = Policy::kNever;
  auto trainer = train::Trainer::Create(*worker, nullptr, options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_EQ((*trainer)->Resume().value(), 0);
  options.resume_from = (dir.path() / "run-same").string();
  auto refused = train::Trainer::Create(*worker, nullptr, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("never"), std::string::npos) << refused.status();
}

TEST(TrainerRuns, ADirectoryHeldByALiveRunIsRefusedNamingTheHolder) {
  ScratchDir dir;
  auto worker = StandaloneWorker();
  train::TrainerOptions options = SyncEvery(dir.path(), 4);
  options.run_id = "same";
  auto holder = train::Trainer::Create(*worker, nullptr, options);
  ASSERT_TRUE(holder.ok()) << holder.status();
  auto second = train::Trainer::Create(*worker, nullptr, options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), train::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("checkpoint dir " + (dir.path() / "run-same").string() +
                                           " is in use by run same (pid " +
                                           std::to_string(getpid()) + " on "),
            std::string::npos)
      << second.status();
  EXPECT_NE(second.status().message().find("use another dir or wait"), std::string::npos);
  holder->reset();  // the holder ends: the directory is free again
  EXPECT_TRUE(train::Trainer::Create(*worker, nullptr, options).ok());
}

TEST(TrainerRuns, AlwaysPassesOverARunStillHeldByALiveTrainer) {
  ScratchDir dir;
  RunOf(dir.path(), "finished", 10, Policy::kAuto);  // step 8
  auto worker = StandaloneWorker();
  train::TrainerOptions live_options = SyncEvery(dir.path(), 4);
  live_options.run_id = "live";
  auto live = train::Trainer::Create(*worker, nullptr, live_options);
  ASSERT_TRUE(live.ok()) << live.status();
  Model model;
  model.Register(**live);
  for (std::int64_t step = 1; step <= 12; ++step) {
    model.Step();
    ASSERT_TRUE((*live)->EndStep(step).ok());
  }
  // The live run's step 12 is newer, but it is not an earlier run: it is still training.
  EXPECT_EQ(RunOf(dir.path(), "new", 10, Policy::kAlways), 8);
}

TEST(TrainerRuns, KeepRunsDeletesOnlyOldRunsItMadeThatNoLiveRunHolds) {
  ScratchDir dir;
  RunOf(dir.path(), "a", 4, Policy::kAuto);
  RunOf(dir.path(), "b", 4, Policy::kAuto);
  fs::create_directories(dir.path() / "run-foreign");  // not made by a trainer: no lock file
  auto worker = StandaloneWorker();
  train::TrainerOptions live_options = SyncEvery(dir.path(), 4);
  live_options.run_id = "live";
  auto live = train::Trainer::Create(*worker, nullptr, live_options);
  ASSERT_TRUE(live.ok()) << live.status();
  // Oldest first: a, live, b (the live run is old but still holds its directory).
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(dir.path() / "run-a", now - std::chrono::hours(3));
  fs::last_write_time(dir.path() / "run-live", now - std::chrono::hours(2));
  fs::last_write_time(dir.path() / "run-b", now - std::chrono::hours(1));

  train::TrainerOptions options = SyncEvery(dir.path(), 4);
  options.run_id = "new";
  options.keep_runs = 2;
  auto trainer = train::Trainer::Create(*worker, nullptr, options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_FALSE(fs::exists(dir.path() / "run-a"));
  EXPECT_TRUE(fs::exists(dir.path() / "run-live"));
  EXPECT_TRUE(fs::exists(dir.path() / "run-b"));
  EXPECT_TRUE(fs::exists(dir.path() / "run-foreign"));
  EXPECT_TRUE(fs::exists(dir.path() / "run-new"));
}

}  // namespace
