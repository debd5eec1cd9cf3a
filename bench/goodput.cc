// bench_goodput: what a fault costs the Fashion-MNIST job on 2 nodes, and what recovering from
// in-memory peer snapshots saves against recovering from disk checkpoints. For each fault kind
// (a worker SIGKILLed, a node lost, the store's node lost, both nodes preempted) and each
// recovery mode, the job runs with one fault mid-training; the table shows the steps redone,
// the seconds from the fault until it trains again, and whether it ended bit for bit where a
// calm run of the same mode ends.
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "goodput_run.h"
#include "launcher_process.h"
#include "summary.h"

namespace {

namespace fs = std::filesystem;
using bench::Fault;
using bench::Recovery;

constexpr char kDatasetDir[] = "/usr/share/datasets/fashion-mnist";

struct Calm {
  std::string params_sha256;  // the first calm run's
  std::vector<double> step, start, train;
  int different = 0;  // calm runs that ended elsewhere
};

struct Row {
  std::vector<double> redone, to_round, raw, excl;
  int runs = 0, failed = 0, different = 0;
};

// `trainctl data import idx` of the Debian dataset's `prefix` (train, t10k) into `out`.
bool Import(const std::string& trainctl, const std::string& prefix, const std::string& out) {
  const std::string base = std::string(kDatasetDir) + "/" + prefix;
  const std::string command = "'" + trainctl + "' data import idx --images '" + base +
                              "-images-idx3-ubyte.gz' --labels '" + base +
                              "-labels-idx1-ubyte.gz' -o '" + out + "' >/dev/null";
  return std::system(command.c_str()) == 0;
}

std::string EqualCell(const Row& row) {
  if (row.runs == row.failed) return "n/a";
  if (row.different > 0) {
    return "DIFFERENT (" + std::to_string(row.different) + " of " + std::to_string(row.runs) + ")";
  }
  return "equal";
}

}  // namespace

int main(int argc, char** argv) {
  bench::GoodputConfig config;
  config.trainctl = BENCH_TRAINCTL_PATH;
  config.train = BENCH_FASHION_MNIST_TRAIN_PATH;
  int reps = 3;
  std::vector<std::string> fault_names = {"worker", "node", "store-node", "sigterm"};
  std::vector<std::string> mode_names = {"disk", "memory"};
  std::string work_dir;
  bool keep = false;

  CLI::App app(
      "Goodput under faults: runs the Fashion-MNIST job on 2 nodes (2 `trainctl agent` "
      "processes here, 1 worker each, deterministic CPU all-reduce) and injects one fault per "
      "run after rank 0 printed step --fault-at-step. Each fault kind runs in two recovery "
      "modes: disk (checkpoint every 50 steps) and memory (in-memory peer snapshots every "
      "step, 1 replica; disk every 200). It reports, as median [min, max] over --reps runs: "
      "the steps redone (the last step rank 0 printed before the fault, less the step the job "
      "resumed from), the seconds from the fault to the first `round N:` line and to rank 0's "
      "first step line after the resume (raw, and less the program's own start measured in a "
      "calm run), and whether the final params_sha256 equals the calm run's.",
      "bench_goodput");
  app.footer(R"(
Faults (--faults):
  worker      SIGKILL node 1's worker (found under its agent in /proc); its agent restarts the group
  node        SIGKILL node 1's agent (its watchdog kills its worker); a replacement agent starts at once
  store-node  SIGKILL node 0's agent, the store's host; node 1 (--store-bind 127.0.0.2) hosts the
              store; then a replacement node 0 joins it at 127.0.0.2 (--store-bind 127.0.0.3)
  sigterm     SIGTERM to both agents (workers save the step under way, agents exit 75); both start again

Examples:
  bench_goodput --reps 1                          # every fault, both modes, once: about 3 min
  bench_goodput                                   # the table in docs/benchmarks.md: about 9 min
  bench_goodput --faults worker --modes memory --work-dir /tmp/gp   # keeps the logs

Progress goes to stderr, the table to stdout. Exit status: 0 when every run recovered and ended
with the calm run's params_sha256, 1 otherwise, 2 on bad flags.)");
  app.add_option("--reps", reps, "runs of each fault kind in each mode")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--faults", fault_names, "fault kinds to inject")
      ->delimiter(',')
      ->check(CLI::IsMember({"worker", "node", "store-node", "sigterm"}))
      ->capture_default_str();
  app.add_option("--modes", mode_names, "recovery modes")
      ->delimiter(',')
      ->check(CLI::IsMember({"disk", "memory"}))
      ->capture_default_str();
  app.add_option("--steps", config.steps,
                 "training steps of the job (the default puts the fault halfway between two disk "
                 "checkpoints, the mean for a fault at a random step)")
      ->check(CLI::Range(20, 100000))
      ->capture_default_str();
  app.add_option("--fault-at-step", config.fault_at_step,
                 "inject the fault once rank 0 printed this step (0: 60% of --steps)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", config.run_timeout_s, "seconds one run may take")
      ->check(CLI::Range(10, 3600))
      ->capture_default_str();
  app.add_option("--train-data", config.train_data,
                 "HDF5 training set (default: imported from " + std::string(kDatasetDir) +
                     " into --work-dir)");
  app.add_option("--test-data", config.test_data, "HDF5 test set (default: imported likewise)");
  app.add_option("--work-dir", work_dir,
                 "specs, checkpoints and every agent's log (default: a new /tmp/goodput.XXXXXX)");
  app.add_flag("--keep", keep, "keep the default work dir (a --work-dir given is always kept)");
  app.add_option("--trainctl", config.trainctl, "trainctl binary")->capture_default_str();
  app.add_option("--train", config.train, "the Fashion-MNIST trainer")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (config.fault_at_step == 0) config.fault_at_step = config.steps * 6 / 10;
  if (config.fault_at_step >= config.steps) {
    std::fprintf(stderr, "bench_goodput: --fault-at-step must be below --steps\n");
    return 2;
  }

  const bool made_work_dir = work_dir.empty();
  if (made_work_dir) {
    std::string pattern = "/tmp/goodput.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("bench_goodput: mkdtemp");
      return 1;
    }
    work_dir = pattern;
  }
  fs::create_directories(work_dir);
  config.work_dir = fs::absolute(work_dir).string();
  if (const train::Status s = bench::BecomeSubreaper(); !s.ok()) {
    std::fprintf(stderr, "bench_goodput: %s\n", s.ToString().c_str());
    return 1;
  }
  if (config.train_data.empty() || config.test_data.empty()) {
    config.train_data = config.work_dir + "/train.h5";
    config.test_data = config.work_dir + "/test.h5";
    std::fprintf(stderr, "bench_goodput: importing %s into %s\n", kDatasetDir,
                 config.work_dir.c_str());
    if (!Import(config.trainctl, "train", config.train_data) ||
        !Import(config.trainctl, "t10k", config.test_data)) {
      std::fprintf(stderr,
                   "bench_goodput: trainctl data import idx failed (is %s there? "
                   "apt-get install dataset-fashion-mnist)\n",
                   kDatasetDir);
      return 1;
    }
  }

  std::map<std::string, Fault> faults = {{"worker", Fault::kWorker},
                                         {"node", Fault::kNode},
                                         {"store-node", Fault::kStoreNode},
                                         {"sigterm", Fault::kSigterm}};
  std::vector<Recovery> modes;
  for (const std::string& m : mode_names) {
    modes.push_back(m == "disk" ? Recovery::kDisk : Recovery::kMemory);
  }
  bool failed = false;

  // The calm runs (--reps of each mode): the reference params, the step time and the program's
  // own start (medians).
  std::map<Recovery, Calm> calm;
  for (int rep = 0; rep < reps; ++rep) {
    for (Recovery mode : modes) {
      const std::string tag =
          std::string("calm-") + bench::RecoveryName(mode) + "-" + std::to_string(rep + 1);
      std::fprintf(stderr, "bench_goodput: %s\n", tag.c_str());
      auto r = bench::RunGoodput(config, Fault::kNone, mode, tag);
      if (!r.ok()) {
        std::fprintf(stderr, "bench_goodput: %s\n", r.status().ToString().c_str());
        failed = true;
        continue;
      }
      Calm& c = calm[mode];
      if (c.params_sha256.empty()) c.params_sha256 = r->params_sha256;
      if (r->params_sha256 != c.params_sha256) {
        std::fprintf(stderr, "bench_goodput: %s: params_sha256 %s, not the first calm run's\n",
                     tag.c_str(), r->params_sha256.c_str());
        ++c.different;
        failed = true;
      }
      c.step.push_back(r->step_s);
      c.start.push_back(r->start_s);
      c.train.push_back(r->train_s);
      std::fprintf(stderr, "bench_goodput: %s: run %.1f s, step %.3f s, start %.2f s, params %s\n",
                   tag.c_str(), r->train_s, r->step_s, r->start_s, r->params_sha256.c_str());
    }
  }

  std::map<std::pair<std::string, Recovery>, Row> rows;
  for (int rep = 0; rep < reps; ++rep) {
    for (const std::string& name : fault_names) {
      for (Recovery mode : modes) {
        Row& row = rows[{name, mode}];
        ++row.runs;
        const std::string tag =
            name + "-" + bench::RecoveryName(mode) + "-" + std::to_string(rep + 1);
        std::fprintf(stderr, "bench_goodput: %s\n", tag.c_str());
        auto r = bench::RunGoodput(config, faults.at(name), mode, tag);
        if (!r.ok()) {
          std::fprintf(stderr, "bench_goodput: %s\n", r.status().ToString().c_str());
          ++row.failed;
          failed = true;
          continue;
        }
        const auto reference = calm.find(mode);
        const bool equal =
            reference != calm.end() && r->params_sha256 == reference->second.params_sha256;
        if (!equal) {
          ++row.different;
          failed = true;
        }
        const double start =
            reference != calm.end() ? bench::Summarize(reference->second.start).median : 0;
        row.redone.push_back(static_cast<double>(r->last_step_before - r->resumed_step));
        row.to_round.push_back(r->to_round_s);
        row.raw.push_back(r->to_training_s);
        row.excl.push_back(r->to_training_s - start);
        std::fprintf(stderr,
                     "bench_goodput: %s: last step %ld, resumed from %ld, round after %.2f s, "
                     "training after %.2f s (%.2f s less the start), params %s\n",
                     tag.c_str(), r->last_step_before, r->resumed_step, r->to_round_s,
                     r->to_training_s, r->to_training_s - start, equal ? "equal" : "DIFFERENT");
      }
    }
  }

  std::printf(
      "# Fashion-MNIST, 2 nodes x 1 worker, %d steps, fault after rank 0's step %d; "
      "median [min, max] of %d\n",
      config.steps, config.fault_at_step, reps);
  for (const auto& [mode, c] : calm) {
    std::printf("# calm %-6s: run s %s, step s %s, program start s %s, params_sha256 %.16s...%s\n",
                bench::RecoveryName(mode), bench::Cell(bench::Summarize(c.train), 1).c_str(),
                bench::Cell(bench::Summarize(c.step), 3).c_str(),
                bench::Cell(bench::Summarize(c.start), 2).c_str(), c.params_sha256.c_str(),
                c.different > 0 ? " (calm runs DIFFERENT)" : "");
  }
  std::printf("# %-10s %-6s %18s %20s %20s %20s  %s\n", "fault", "mode", "steps redone",
              "s to new round", "s to training", "excl. start", "params");
  for (const std::string& name : fault_names) {
    for (Recovery mode : modes) {
      const Row& row = rows[{name, mode}];
      std::string params = EqualCell(row);
      if (row.failed > 0) {
        params += ", " + std::to_string(row.failed) + " of " + std::to_string(row.runs) + " FAILED";
      }
      std::printf("  %-10s %-6s %18s %20s %20s %20s  %s\n", name.c_str(), bench::RecoveryName(mode),
                  bench::Cell(bench::Summarize(row.redone), 0).c_str(),
                  bench::Cell(bench::Summarize(row.to_round), 2).c_str(),
                  bench::Cell(bench::Summarize(row.raw), 2).c_str(),
                  bench::Cell(bench::Summarize(row.excl), 2).c_str(), params.c_str());
    }
  }
  std::fflush(stdout);
  if (made_work_dir && !keep) {
    std::error_code ignored;
    fs::remove_all(config.work_dir, ignored);
  } else {
    std::fprintf(stderr, "bench_goodput: logs kept in %s\n", config.work_dir.c_str());
  }
  return failed ? 1 : 0;
}
