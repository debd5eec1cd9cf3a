// trainctl against torchrun, side by side in one run: launch time, restart time, and the
// launcher's own memory, all on the same trivial worker (bench_launch_worker); and the start-up
// cost of each program alone, which bounds the launch time from below.
//
//   bench_launch [--reps 7] [--nproc 2,4,8] [--restart-nproc 4] [--monitor-interval 0.1,0.5]
//                [--memory-nproc 4] [--only launch,restart,memory,startup] [--trainctl PATH]
//                [--torchrun PATH] [--worker PATH] [--timeout-s 120] [--keep-failed]
//
// Runs of the two launchers alternate (and which goes first alternates too), so that the load
// of a shared machine falls on both alike. Tables print medians [min, max] over the runs.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "summary.h"
#include "train/env.h"
#include "train/internal/process_environment.h"
#include "trial.h"

namespace bench {
namespace {

struct Options {
  Programs programs{BENCH_TRAINCTL_PATH, "/usr/bin/torchrun", BENCH_WORKER_PATH};
  int reps = 7;
  std::vector<int> launch_nprocs{2, 4, 8};
  std::vector<int> restart_nprocs{4};
  std::vector<double> monitor_intervals{0.1, 0.5};
  int memory_nproc = 4;
  int hold_ms = 2000;
  int timeout_s = 120;
  std::set<std::string> sections{"launch", "restart", "memory", "startup"};
  bool keep_failed = false;
  std::string tmp_root = "/tmp";
};

template <typename T>
bool ParseList(const std::string& text, std::vector<T>* out) {
  out->clear();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::istringstream one(item);
    T value{};
    if (!(one >> value) || !one.eof() || value <= 0) return false;
    out->push_back(value);
  }
  return !out->empty();
}

// "launch,restart": sections to run, each one of launch, restart, memory, startup.
bool ParseSections(const std::string& text, std::set<std::string>* out) {
  out->clear();
  std::stringstream in(text);
  std::string word;
  while (std::getline(in, word, ',')) {
    if (word != "launch" && word != "restart" && word != "memory" && word != "startup") {
      return false;
    }
    out->insert(word);
  }
  return true;
}

// Samples of one configuration: the headline figure, and the stages behind it.
struct Samples {
  std::map<std::string, std::vector<double>> values;
  int failed = 0;
};

double Seconds(long long from_ns, long long to_ns) { return (to_ns - from_ns) / 1e9; }

// Runs `config` and hands its result to `record` (which adds the samples), or counts a failure.
void RunOne(const Options& o, const TrialConfig& config, const std::string& label, int rep,
            Samples* samples, const std::function<void(const TrialResult&, Samples*)>& record,
            const char* unit = "s") {
  auto result = RunTrial(o.programs, config, o.tmp_root, o.keep_failed);
  std::fprintf(stderr, "  %-34s run %d/%d: ", label.c_str(), rep + 1, o.reps);
  if (!result.ok()) {
    std::fprintf(stderr, "cannot run: %s\n", result.status().ToString().c_str());
    ++samples->failed;
    return;
  }
  if (!result->error.empty()) {
    std::fprintf(stderr, "FAILED: %s\n%s", result->error.c_str(), result->log_tail.c_str());
    ++samples->failed;
    return;
  }
  record(*result, samples);
  std::fprintf(stderr, "%.3f %s\n", samples->values.begin()->second.back(), unit);
}

// "launcher start -> ...": the launch time and where it went, per worker event.
void RecordLaunch(const TrialResult& r, int nproc, Samples* s) {
  const long long t0 = r.launch.start_ns;
  s->values["0 ready"].push_back(Seconds(t0, *LastOf(r.events, "ready", 0, nproc)));
  s->values["1 first start"].push_back(Seconds(t0, *FirstOf(r.events, "start", 0, nproc)));
  s->values["2 last start"].push_back(Seconds(t0, *LastOf(r.events, "start", 0, nproc)));
  s->values["3 last init"].push_back(Seconds(t0, *LastOf(r.events, "init", 0, nproc)));
  s->values["4 exit"].push_back(r.launch.wall_s);
}

// "rank 0 failed -> ...": the restart time and its stages.
void RecordRestart(const TrialResult& r, int nproc, Samples* s) {
  const long long failed = *TimeOf(r.events, "fail", 0, 0);
  s->values["0 ready"].push_back(Seconds(failed, *LastOf(r.events, "ready", 1, nproc)));
  s->values["1 first start"].push_back(Seconds(failed, *FirstOf(r.events, "start", 1, nproc)));
  s->values["2 last start"].push_back(Seconds(failed, *LastOf(r.events, "start", 1, nproc)));
  s->values["3 last init"].push_back(Seconds(failed, *LastOf(r.events, "init", 1, nproc)));
}

void RecordMemory(const TrialResult& r, Samples* s) {
  s->values["0 own"].push_back(r.launch.peak_rss_kib / 1024.0);
  s->values["1 wait4"].push_back(r.launch.wall_s > 0 ? r.launch.wait4_rss_kib / 1024.0 : 0);
}

Summary Of(const Samples& s, const std::string& key) {
  auto it = s.values.find(key);
  return Summarize(it == s.values.end() ? std::vector<double>{} : it->second);
}

void PrintStages(const char* title, const std::vector<std::pair<std::string, Samples>>& rows) {
  std::printf("#\n# %s (medians, s)\n", title);
  std::printf("# %-22s %11s %11s %11s %11s\n", "configuration", "first main", "last main",
              "last Init", "last ready");
  for (const auto& [label, s] : rows) {
    std::printf("  %-22s %11.3f %11.3f %11.3f %11.3f\n", label.c_str(),
                Of(s, "1 first start").median, Of(s, "2 last start").median,
                Of(s, "3 last init").median, Of(s, "0 ready").median);
  }
}

TrialConfig Config(const Options& o, Launcher launcher, int nproc) {
  TrialConfig c;
  c.launcher = launcher;
  c.nproc = nproc;
  c.timeout = std::chrono::seconds(o.timeout_s);
  return c;
}

void LaunchSection(const Options& o) {
  std::map<int, Samples> trainctl, torchrun;
  std::fprintf(stderr, "launch: launcher start until every rank passed Init and one Barrier\n");
  for (int rep = 0; rep < o.reps; ++rep) {
    for (int n : o.launch_nprocs) {
      for (int k = 0; k < 2; ++k) {
        const bool ours = (k == 0) == (rep % 2 == 0);
        TrialConfig c = Config(o, ours ? Launcher::kTrainctl : Launcher::kTorchrun, n);
        const std::string label =
            std::string(LauncherName(c.launcher)) + " nproc " + std::to_string(n);
        RunOne(o, c, label, rep, ours ? &trainctl[n] : &torchrun[n],
               [n](const TrialResult& r, Samples* s) { RecordLaunch(r, n, s); });
      }
    }
  }
  std::printf(
      "#\n# Launch: launcher start until every rank passed train::Worker::Init() and "
      "one Barrier()\n");
  std::printf("# seconds, median [min, max] of %d runs; ratio = torchrun / trainctl\n", o.reps);
  std::printf("# %5s %24s %24s %8s %7s\n", "nproc", "trainctl", "torchrun", "ratio", "failed");
  for (int n : o.launch_nprocs) {
    const Summary a = Of(trainctl[n], "0 ready"), b = Of(torchrun[n], "0 ready");
    std::printf("  %5d %24s %24s %8s %3d/%-3d\n", n, Cell(a, 3).c_str(), Cell(b, 3).c_str(),
                Ratio(a, b).c_str(), trainctl[n].failed, torchrun[n].failed);
  }
  std::vector<std::pair<std::string, Samples>> rows;
  for (int n : o.launch_nprocs) {
    rows.push_back({"trainctl nproc " + std::to_string(n), trainctl[n]});
    rows.push_back({"torchrun nproc " + std::to_string(n), torchrun[n]});
  }
  PrintStages("Launch stages after launcher start", rows);
  std::printf("#\n# Launcher exit (start until it exited 0, medians, s)\n");
  for (int n : o.launch_nprocs) {
    std::printf("  nproc %-3d trainctl %7.3f   torchrun %7.3f\n", n,
                Of(trainctl[n], "4 exit").median, Of(torchrun[n], "4 exit").median);
  }
}

void RestartSection(const Options& o) {
  // trainctl with backoff 0s (a job file), and with the quick form's default backoff (1s).
  const std::vector<std::string> backoffs = {"0s", ""};
  std::map<std::pair<int, std::string>, Samples> trainctl;
  std::map<std::pair<int, double>, Samples> torchrun;
  std::fprintf(stderr, "restart: rank 0 exits 1 until the restarted group passed a barrier\n");
  for (int rep = 0; rep < o.reps; ++rep) {
    for (int n : o.restart_nprocs) {
      std::vector<TrialConfig> configs;
      for (const std::string& backoff : backoffs) {
        configs.push_back(Config(o, Launcher::kTrainctl, n));
        configs.back().backoff = backoff;
      }
      for (double mi : o.monitor_intervals) {
        configs.push_back(Config(o, Launcher::kTorchrun, n));
        configs.back().monitor_interval = mi;
      }
      if (rep % 2 == 1) std::reverse(configs.begin(), configs.end());
      for (TrialConfig& c : configs) {
        c.fail_first = true;
        const bool ours = c.launcher == Launcher::kTrainctl;
        char label[64];
        if (ours) {
          std::snprintf(label, sizeof(label), "trainctl nproc %d backoff %s", n,
                        c.backoff.empty() ? "default" : c.backoff.c_str());
        } else {
          std::snprintf(label, sizeof(label), "torchrun nproc %d monitor %g", n,
                        c.monitor_interval);
        }
        RunOne(o, c, label, rep,
               ours ? &trainctl[{n, c.backoff}] : &torchrun[{n, c.monitor_interval}],
               [n](const TrialResult& r, Samples* s) { RecordRestart(r, n, s); });
      }
    }
  }
  std::printf(
      "#\n# Restart: rank 0 exits 1 until every rank of the restarted group passed a "
      "Barrier()\n");
  std::printf(
      "# seconds, median [min, max] of %d runs; trainctl with failurePolicy.backoff 0s "
      "(job file) and with the\n# quick form's default 1s (--max-restarts 1); torchrun "
      "with --monitor_interval mi; ratio = torchrun / trainctl (0s)\n",
      o.reps);
  std::printf("# %5s %24s %24s", "nproc", "trainctl 0s", "trainctl default");
  for (double mi : o.monitor_intervals) {
    char head[48];
    std::snprintf(head, sizeof(head), "torchrun mi=%g", mi);
    std::printf(" %24s %8s", head, "ratio");
  }
  std::printf(" %7s\n", "failed");
  std::vector<std::pair<std::string, Samples>> rows;
  for (int n : o.restart_nprocs) {
    const Samples& fast = trainctl[{n, "0s"}];
    const Samples& quick = trainctl[{n, ""}];
    const Summary a = Of(fast, "0 ready");
    int failed = fast.failed + quick.failed;
    std::printf("  %5d %24s %24s", n, Cell(a, 3).c_str(), Cell(Of(quick, "0 ready"), 3).c_str());
    rows.push_back({"trainctl n" + std::to_string(n) + " 0s", fast});
    rows.push_back({"trainctl n" + std::to_string(n) + " default", quick});
    for (double mi : o.monitor_intervals) {
      const Samples& s = torchrun[{n, mi}];
      const Summary b = Of(s, "0 ready");
      std::printf(" %24s %8s", Cell(b, 3).c_str(), Ratio(a, b).c_str());
      failed += s.failed;
      char label[48];
      std::snprintf(label, sizeof(label), "torchrun n%d mi=%g", n, mi);
      rows.push_back({label, s});
    }
    std::printf(" %7d\n", failed);
  }
  PrintStages("Restart stages after rank 0 failed", rows);
}

// Process start-up alone: exec until exit of a command that does no work.
void StartupSection(const Options& o) {
  struct Probe {
    std::string label;
    std::vector<std::string> argv;
    int expected_code;
  };
  const std::vector<Probe> probes = {
      {"trainctl --help", {o.programs.trainctl, "--help"}, 0},
      {"bench_launch_worker (usage)", {o.programs.worker}, 2},
      {"torchrun --help", {o.programs.torchrun, "--help"}, 0},
  };
  std::map<std::string, std::vector<double>> samples;
  std::fprintf(stderr, "startup: exec until exit, no work\n");
  for (int rep = 0; rep < o.reps; ++rep) {
    for (const Probe& p : probes) {
      LaunchSpec spec;
      spec.argv = p.argv;
      spec.env = train::internal::ProcessEnvironment();
      spec.working_dir = o.tmp_root;
      spec.log_path = "/dev/null";
      spec.timeout = std::chrono::seconds(o.timeout_s);
      auto r = RunLauncher(spec);
      if (r.ok() && !r->timed_out && r->exit_code == p.expected_code) {
        samples[p.label].push_back(r->wall_s);
      }
    }
  }
  std::printf(
      "#\n# Start-up: exec until exit of a program that does no work (s, median [min, "
      "max] of %d)\n",
      o.reps);
  for (const Probe& p : probes) {
    std::printf("  %-28s %24s\n", p.label.c_str(), Cell(Summarize(samples[p.label]), 4).c_str());
  }
}

void MemorySection(const Options& o) {
  Samples trainctl, torchrun;
  const int n = o.memory_nproc;
  std::fprintf(stderr, "memory: the launcher's own peak RSS, %d workers up for %d ms\n", n,
               o.hold_ms);
  for (int rep = 0; rep < o.reps; ++rep) {
    for (int k = 0; k < 2; ++k) {
      const bool ours = (k == 0) == (rep % 2 == 0);
      TrialConfig c = Config(o, ours ? Launcher::kTrainctl : Launcher::kTorchrun, n);
      c.hold_ms = o.hold_ms;
      RunOne(
          o, c, std::string(LauncherName(c.launcher)) + " memory", rep,
          ours ? &trainctl : &torchrun,
          [](const TrialResult& r, Samples* s) { RecordMemory(r, s); }, "MiB");
    }
  }
  std::printf("#\n# Memory: peak RSS of the launcher process itself (VmHWM), %d workers\n", n);
  std::printf(
      "# MiB, median [min, max] of %d runs; wait4 ru_maxrss also counts reaped "
      "children, so it is at least the largest worker's\n",
      o.reps);
  std::printf("# %9s %24s %24s %8s %7s\n", "launcher", "own peak RSS", "wait4 ru_maxrss", "ratio",
              "failed");
  const Summary a = Of(trainctl, "0 own"), b = Of(torchrun, "0 own");
  std::printf("  %9s %24s %24s %8s %7d\n", "trainctl", Cell(a, 1).c_str(),
              Cell(Of(trainctl, "1 wait4"), 1).c_str(), "", trainctl.failed);
  std::printf("  %9s %24s %24s %8s %7d\n", "torchrun", Cell(b, 1).c_str(),
              Cell(Of(torchrun, "1 wait4"), 1).c_str(), Ratio(a, b).c_str(), torchrun.failed);
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  bench::Options options;
  CLI::App app(
      "trainctl against torchrun, side by side, on the same trivial worker (bench_launch_worker:\n"
      "train::Worker::Init, one Barrier): launch until every rank passed the barrier; restart\n"
      "after rank 0 exits 1 (torchrun at each --monitor-interval); the launcher's own peak RSS;\n"
      "and the start-up of each program alone, which bounds the launch from below. Runs of the\n"
      "two launchers alternate, and which goes first alternates too, so that the load of a shared\n"
      "machine falls on both alike. Tables print medians [min, max] over --reps runs.",
      "bench_launch");
  app.footer(R"(
Sections (--only):
  launch   launch time at each --nproc, and its stages (first main, last Init, last ready)
  restart  restart time at each --restart-nproc: trainctl with backoff 0s and its default,
           torchrun at each --monitor-interval
  memory   the launcher's peak RSS with --memory-nproc workers up for --hold-ms
  startup  trainctl --help, the worker and torchrun --help alone: exec until exit

Examples:
  bench_launch                                  # every section; about 2.5 min
  bench_launch --only launch --nproc 2,4 --reps 3

Each run gets a fresh directory under $TMPDIR (or /tmp), removed after. Progress goes to
stderr, tables to stdout. Exit status: 0 when done (failed runs are counted in the tables), 1
when it cannot become the subreaper of what it starts, 2 on bad flags.)");
  std::string nprocs = "2,4,8", restart_nprocs = "4", monitor_intervals = "0.1,0.5";
  std::string only = "launch,restart,memory,startup";
  app.add_option("--reps", options.reps, "runs of every configuration, per launcher")
      ->check(bench::Positive<int>())
      ->capture_default_str();
  app.add_option("--nproc", nprocs, "workers per launch, comma-separated: one row each")
      ->capture_default_str();
  app.add_option("--restart-nproc", restart_nprocs,
                 "workers per restart run, comma-separated: one row each")
      ->capture_default_str();
  app.add_option("--monitor-interval", monitor_intervals,
                 "torchrun's --monitor_interval in the restart runs, seconds, comma-separated")
      ->capture_default_str();
  app.add_option("--memory-nproc", options.memory_nproc, "workers in the memory runs")
      ->check(bench::Positive<int>())
      ->capture_default_str();
  app.add_option("--hold-ms", options.hold_ms,
                 "how long the workers of a memory run stay up after their barrier, ms")
      ->check(bench::Positive<int>())
      ->capture_default_str();
  app.add_option("--only", only, "sections to run, comma-separated (see below)")
      ->capture_default_str();
  app.add_option("--trainctl", options.programs.trainctl, "trainctl binary")->capture_default_str();
  app.add_option("--torchrun", options.programs.torchrun, "torchrun")->capture_default_str();
  app.add_option("--worker", options.programs.worker, "the worker (bench_launch_worker)")
      ->capture_default_str();
  app.add_option("--timeout-s", options.timeout_s,
                 "seconds one run may take before its launcher is stopped")
      ->check(bench::Positive<int>())
      ->capture_default_str();
  app.add_flag("--keep-failed", options.keep_failed,
               "keep the directory of a failed run (its logs)");
  if (auto exit = bench::ParseCommandLine(app, argc, argv, [&] {
        if (!bench::ParseList(nprocs, &options.launch_nprocs)) {
          throw CLI::ValidationError("--nproc " + nprocs + ": want counts >= 1 like 2,4,8");
        }
        if (!bench::ParseList(restart_nprocs, &options.restart_nprocs)) {
          throw CLI::ValidationError("--restart-nproc " + restart_nprocs +
                                     ": want counts >= 1 like 4 or 2,4");
        }
        if (!bench::ParseList(monitor_intervals, &options.monitor_intervals)) {
          throw CLI::ValidationError("--monitor-interval " + monitor_intervals +
                                     ": want seconds > 0 like 0.1,0.5");
        }
        if (!bench::ParseSections(only, &options.sections)) {
          throw CLI::ValidationError("--only " + only +
                                     ": want sections among launch,restart,memory,startup");
        }
      })) {
    return *exit;
  }
  const auto env = train::internal::ProcessEnvironment();
  if (auto tmp = env.find("TMPDIR"); tmp != env.end() && !tmp->second.empty()) {
    options.tmp_root = tmp->second;
  }
  if (train::Status status = bench::BecomeSubreaper(); !status.ok()) {
    std::fprintf(stderr, "bench_launch: %s\n", status.ToString().c_str());
    return 1;
  }
  std::printf(
      "# bench_launch: trainctl %s\n#               torchrun %s\n#               worker "
      "%s\n",
      options.programs.trainctl.c_str(), options.programs.torchrun.c_str(),
      options.programs.worker.c_str());
  // Tables go to stdout as each section ends, progress to stderr as it happens.
  std::fflush(stdout);
  if (options.sections.count("launch")) bench::LaunchSection(options);
  std::fflush(stdout);
  if (options.sections.count("restart")) bench::RestartSection(options);
  std::fflush(stdout);
  if (options.sections.count("memory")) bench::MemorySection(options);
  std::fflush(stdout);
  if (options.sections.count("startup")) bench::StartupSection(options);
  return 0;
}
