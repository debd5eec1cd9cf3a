// train::Trainer and SIGTERM in one process: the signal does not end the process while a
// trainer lives, the next EndStep saves that step at once (whatever every_steps says) and
// says so; a program's own handler still runs, an ignored SIGTERM stays ignored, and the
// disposition comes back when the trainer goes. Each case runs in a child process (a death
// test), since a preemption request is the whole process's.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>

#include "../../scratch_dir.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace {

namespace fs = std::filesystem;
using ::train::testing::ScratchDir;

// Exit codes of the children: which check failed.
constexpr int kNotSaved = 10;
constexpr int kWrongStep = 11;
constexpr int kSetupFailed = 12;
constexpr int kHandlerNotRun = 13;
constexpr int kPreemptedTooEarly = 14;
constexpr int kNotRestored = 15;

struct Job {
  std::unique_ptr<train::Worker> worker;
  std::unique_ptr<train::Trainer> trainer;
  float value = 0;
};

// A one-process job whose trainer saves only every 1000 steps, asynchronously.
Job StartJob(const fs::path& dir) {
  Job job;
  job.worker = std::move(train::Worker::Init(train::WorkerEnv{}).value());
  train::TrainerOptions options;
  options.checkpoint_dir = dir.string();
  options.every_steps = 1000;
  options.async = true;
  auto trainer = train::Trainer::Create(*job.worker, nullptr, options);
  if (!trainer.ok()) _exit(kSetupFailed);
  job.trainer = std::move(*trainer);
  job.trainer->AddTensor({"value", {&job.value, train::DType::kFloat32, 1}, {}});
  if (!job.trainer->Resume().ok()) _exit(kSetupFailed);
  return job;
}

// Runs steps 1..`steps` and returns the step the loop stopped at for preemption (-1: none).
std::int64_t Train(Job& job, std::int64_t steps) {
  for (std::int64_t step = 1; step <= steps; ++step) {
    job.value = static_cast<float>(step);
    if (!job.trainer->EndStep(step).ok()) _exit(kSetupFailed);
    if (job.trainer->PreemptionRequested()) return step;
  }
  return -1;
}

// Step `step` is committed and holds the value trained to it.
bool Committed(const fs::path& dir, std::int64_t step) {
  auto checkpoints = train::ListCheckpoints(dir.string());
  if (!checkpoints.ok()) return false;
  for (const auto& info : *checkpoints) {
    if (info.step == step) return true;
  }
  return false;
}

TEST(PreemptTrainer, SigtermSavesTheNextStepAtOnceAndTheLoopReturns) {
  ScratchDir dir;
  EXPECT_EXIT(
      {
        Job job = StartJob(dir.path());
        if (Train(job, 6) != -1) _exit(kPreemptedTooEarly);
        ::raise(SIGTERM);  // the process lives on: the trainer holds SIGTERM
        if (job.trainer->PreemptionRequested()) _exit(kPreemptedTooEarly);  // not agreed yet
        job.value = 7;
        if (!job.trainer->EndStep(7).ok()) _exit(kSetupFailed);
        if (!job.trainer->PreemptionRequested()) _exit(kNotSaved);
        if (job.trainer->preempted_step() != 7) _exit(kWrongStep);
        // Synchronous: committed before EndStep returned, though every_steps is 1000.
        if (!Committed(job.trainer->options().checkpoint_dir, 7)) _exit(kNotSaved);
        job.trainer.reset();
        _exit(train::kExitPreempted);
      },
      ::testing::ExitedWithCode(train::kExitPreempted), "");
}

TEST(PreemptTrainer, TheResumedStepIsTheOneSavedOnPreemption) {
  ScratchDir dir;
  EXPECT_EXIT(
      {
        Job job = StartJob(dir.path());
        ::raise(SIGTERM);
        if (Train(job, 100) != 1) _exit(kWrongStep);
        _exit(train::kExitPreempted);
      },
      ::testing::ExitedWithCode(train::kExitPreempted), "");
  // A new process (this one) resumes where the preempted one stood.
  auto worker = train::Worker::Init(train::WorkerEnv{});
  ASSERT_TRUE(worker.ok()) << worker.status();
  train::TrainerOptions options;
  options.checkpoint_dir = dir.path().string();
  float value = 0;
  auto trainer = train::Trainer::Create(**worker, nullptr, options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  (*trainer)->AddTensor({"value", {&value, train::DType::kFloat32, 1}, {}});
  auto resumed = (*trainer)->Resume();
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 1);
  EXPECT_EQ(value, 1.0f);
}

std::atomic<int> g_program_handler_calls{0};
void ProgramHandler(int) { g_program_handler_calls.fetch_add(1); }

TEST(PreemptTrainer, AProgramsOwnHandlerStillRunsAndTheSaveHappensToo) {
  ScratchDir dir;
  EXPECT_EXIT(
      {
        std::signal(SIGTERM, ProgramHandler);
        Job job = StartJob(dir.path());
        ::raise(SIGTERM);
        if (g_program_handler_calls.load() != 1) _exit(kHandlerNotRun);
        if (Train(job, 100) != 1) _exit(kNotSaved);
        job.trainer.reset();
        // The program's handler is back in place, alone.
        struct sigaction now = {};
        sigaction(SIGTERM, nullptr, &now);
        if (now.sa_handler != ProgramHandler) _exit(kNotRestored);
        _exit(train::kExitPreempted);
      },
      ::testing::ExitedWithCode(train::kExitPreempted), "");
}

TEST(PreemptTrainer, AnIgnoredSigtermStaysIgnoredAndRequestPreemptionStillWorks) {
  ScratchDir dir;
  EXPECT_EXIT(
      {
        std::signal(SIGTERM, SIG_IGN);
        Job job = StartJob(dir.path());
        ::raise(SIGTERM);
        if (Train(job, 3) != -1) _exit(kPreemptedTooEarly);
        train::RequestPreemption();
        job.value = 4;
        if (!job.trainer->EndStep(4).ok() || job.trainer->preempted_step() != 4) _exit(kNotSaved);
        _exit(train::kExitPreempted);
      },
      ::testing::ExitedWithCode(train::kExitPreempted), "");
}

TEST(PreemptTrainer, TheDefaultActionComesBackWhenTheTrainerGoes) {
  ScratchDir dir;
  // No SIGTERM while it lived: the default is back, and a SIGTERM now ends the process.
  EXPECT_EXIT(
      {
        Job job = StartJob(dir.path());
        job.trainer.reset();
        ::raise(SIGTERM);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
  // A SIGTERM that no EndStep acted on is not lost: it ends the process when the trainer goes.
  EXPECT_EXIT(
      {
        Job job = StartJob(dir.path());
        ::raise(SIGTERM);
        job.trainer.reset();
        _exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

TEST(PreemptTrainer, WithHandleSigtermOffTheProcessKeepsTheDefaultAction) {
  ScratchDir dir;
  EXPECT_EXIT(
      {
        auto worker = train::Worker::Init(train::WorkerEnv{});
        train::TrainerOptions options;
        options.checkpoint_dir = dir.path().string();
        options.handle_sigterm = false;
        auto trainer = train::Trainer::Create(**worker, nullptr, options);
        if (!trainer.ok()) _exit(kSetupFailed);
        ::raise(SIGTERM);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

}  // namespace
