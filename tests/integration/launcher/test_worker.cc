// A worker for the launcher tests: it joins the job through train::Worker and then does what
// its flags say, so each test can stage one behaviour (fail once, hang, wait for a signal).
//
//   --print-env            print the contract variables as NAME=value lines
//   --fail-rank R --code C exit C on rank R (only in the first attempt with --once)
//   --once                 failures and hangs happen only when TRAIN_RESTART_COUNT is 0
//   --hang-rank R          rank R stops itself with SIGSTOP (a hung worker)
//   --sleep-ms N           work for N ms before finishing
//   --pid-dir D            write D/rank-N.pid once ready
//   --signal-dir D         on SIGINT/SIGTERM write D/signal-rank-N holding the signal, exit
//   --no-barrier           skip the barrier (under mpirun there is no store to meet in)
//   --ignore-term          ignore SIGTERM (a worker that will not stop politely)
//   --progress             report a step every 10 ms while working
//   --train-steps N        train N steps through train::Trainer (a checkpoint every step),
//                          printing "start step S in DIR" first and "trained to step N" last
//   --step-ms N            how long each of those steps takes (default 0)
//   --fail-at-step S       exit --code after step S (only in the first attempt with --once)
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "train/env.h"
#include "train/internal/process_environment.h"
#include "train/log.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace {

std::string g_signal_path;

void OnSignal(int signal) {
  if (!g_signal_path.empty()) {
    std::ofstream(g_signal_path) << signal << "\n";
  }
  std::_Exit(128 + signal);
}

// Trains `steps` steps of a one-number model whose value is the step it reached, so that what
// a start resumed from shows in its first line.
int Train(train::Worker& worker, std::int64_t steps, std::int64_t step_ms,
          std::int64_t fail_at_step, int code) {
  train::TrainerOptions options;
  options.every_steps = 1;
  options.async = false;
  auto trainer = train::Trainer::Create(worker, nullptr, options);
  if (!trainer.ok()) {
    std::cerr << "test_worker: " << trainer.status() << std::endl;
    return 5;
  }
  float value = 0;
  (*trainer)->AddTensor({"value", {&value, train::DType::kFloat32, 1}, {}});
  auto done = (*trainer)->Resume();
  if (!done.ok()) {
    std::cerr << "test_worker: " << done.status() << std::endl;
    return 5;
  }
  std::cout << "start step " << *done << " value " << value << " in "
            << (*trainer)->options().checkpoint_dir << std::endl;
  for (std::int64_t step = *done + 1; step <= steps; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
    value = static_cast<float>(step);
    if (auto saved = (*trainer)->EndStep(step); !saved.ok()) {
      std::cerr << "test_worker: " << saved << std::endl;
      return 5;
    }
    if (step == fail_at_step) {
      std::cout << "fails after step " << step << " with code " << code << std::endl;
      return code;
    }
  }
  std::cout << "trained to step " << steps << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool print_env = false, once = false, barrier = true, ignore_term = false, progress = false;
  int fail_rank = -1, code = 1, hang_rank = -1, sleep_ms = 0;
  std::int64_t train_steps = 0, step_ms = 0, fail_at_step = -1;
  std::string pid_dir, signal_dir;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--print-env")
      print_env = true;
    else if (arg == "--once")
      once = true;
    else if (arg == "--no-barrier")
      barrier = false;
    else if (arg == "--ignore-term")
      ignore_term = true;
    else if (arg == "--progress")
      progress = true;
    else if (arg == "--fail-rank")
      fail_rank = std::stoi(next());
    else if (arg == "--code")
      code = std::stoi(next());
    else if (arg == "--hang-rank")
      hang_rank = std::stoi(next());
    else if (arg == "--sleep-ms")
      sleep_ms = std::stoi(next());
    else if (arg == "--pid-dir")
      pid_dir = next();
    else if (arg == "--signal-dir")
      signal_dir = next();
    else if (arg == "--train-steps")
      train_steps = std::stoll(next());
    else if (arg == "--step-ms")
      step_ms = std::stoll(next());
    else if (arg == "--fail-at-step")
      fail_at_step = std::stoll(next());
    else {
      std::cerr << "test_worker: unknown flag " << arg << "\n";
      return 2;
    }
  }
  auto worker = train::Worker::Init();
  if (!worker.ok()) {
    std::cerr << "test_worker: " << worker.status() << "\n";
    return 3;
  }
  const train::WorkerEnv& env = (*worker)->env();
  if (!signal_dir.empty()) {
    g_signal_path = signal_dir + "/signal-rank-" + std::to_string(env.rank);
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
  }
  if (ignore_term) std::signal(SIGTERM, SIG_IGN);
  if (print_env) {
    for (const auto& [name, value] : train::internal::ProcessEnvironment()) {
      if (name.rfind("TRAIN_", 0) == 0 || name == "RANK" || name == "WORLD_SIZE" ||
          name == "LOCAL_RANK" || name == "LOCAL_WORLD_SIZE" || name == "GROUP_RANK" ||
          name == "MASTER_ADDR" || name == "MASTER_PORT" || name.rfind("TORCHELASTIC_", 0) == 0) {
        std::cout << name << "=" << value << "\n";
      }
    }
    std::cout.flush();
  }
  if (barrier) {
    if (auto status = (*worker)->Barrier(std::chrono::seconds(20)); !status.ok()) {
      std::cerr << "test_worker: " << status << "\n";
      return 4;
    }
  }
  std::cout << "ready rank " << env.rank << " of " << env.world_size << " restart "
            << env.restart_count << " round " << env.run_id << " via "
            << train::LauncherName(env.launcher) << std::endl;
  if (!pid_dir.empty()) {
    std::ofstream(pid_dir + "/rank-" + std::to_string(env.rank) + ".pid") << getpid() << "\n";
  }
  const bool first_attempt = env.restart_count == 0;
  if (env.rank == hang_rank && (!once || first_attempt)) {
    std::cout << "rank " << env.rank << " hangs now" << std::endl;
    raise(SIGSTOP);
  }
  if (env.rank == fail_rank && (!once || first_attempt)) {
    std::cout << "rank " << env.rank << " fails with code " << code << std::endl;
    return code;
  }
  if (train_steps > 0) {
    return Train(**worker, train_steps, step_ms, (!once || first_attempt) ? fail_at_step : -1,
                 code);
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(sleep_ms);
  for (std::int64_t step = 1; std::chrono::steady_clock::now() < until; ++step) {
    if (progress) (void)(*worker)->ReportProgress(step);
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(10), until - std::chrono::steady_clock::now()));
  }
  std::cout << "done rank " << env.rank << std::endl;
  return 0;
}
