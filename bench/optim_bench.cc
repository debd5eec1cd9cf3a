#include "optim_bench.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cli.h"
#include "summary.h"
#include "train/optimizer.h"
#ifdef BENCH_WITH_CUDA
#include "optim_bench_cuda.h"
#endif

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  int reps = 5;
  std::string python = "/usr/bin/python3";
  std::string torch_script = "bench/optim_torch.py";
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// STREAM triad a = b + s * c over three 1 GiB arrays of doubles; returns GB/s per rep.
std::vector<double> Triad(int threads, int reps) {
  const std::size_t n = (std::size_t{1} << 30) / sizeof(double);
  std::unique_ptr<double[]> a(new double[n]), b(new double[n]), c(new double[n]);
  auto run = [&](auto body) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { body(n * t / threads, n * (t + 1) / threads); });
    }
    for (std::thread& th : pool) th.join();
  };
  run([&](std::size_t lo, std::size_t hi) {  // first touch by the thread that uses the pages
    for (std::size_t i = lo; i < hi; ++i) a[i] = 0, b[i] = 1, c[i] = 2;
  });
  std::vector<double> gbps;
  for (int r = 0; r < reps; ++r) {
    const Clock::time_point start = Clock::now();
    run([&](std::size_t lo, std::size_t hi) {
      double* __restrict pa = a.get();
      const double* __restrict pb = b.get();
      const double* __restrict pc = c.get();
      for (std::size_t i = lo; i < hi; ++i) pa[i] = pb[i] + 3.0 * pc[i];
    });
    gbps.push_back(3.0 * n * sizeof(double) / Seconds(start) / 1e9);
  }
  return gbps;
}

// Seconds per fused AdamW step over `params` float32 parameters in `tensors` tensors.
std::vector<double> FusedAdamW(std::size_t params, int tensors, int threads, int reps) {
  const std::size_t each = params / tensors;
  std::vector<std::vector<float>> p(tensors), g(tensors);
  train::ParamGroup group;
  for (int i = 0; i < tensors; ++i) {
    p[i].assign(each, 0.5f);
    g[i].assign(each, 0.01f);
    group.params.push_back({p[i].data(), train::DType::kFloat32, each, train::Device::kCpu, 0});
    group.grads.push_back({g[i].data(), train::DType::kFloat32, each, train::Device::kCpu, 0});
  }
  group.weight_decay = 0.01;
  train::OptimizerOptions options;
  options.num_threads = threads;
  auto opt = train::FusedOptimizer::Create(options, {group});
  if (!opt.ok()) {
    std::fprintf(stderr, "train-bench optim: %s\n", opt.status().ToString().c_str());
    std::exit(1);
  }
  (void)(*opt)->Step();  // warm: first touch of the moments
  std::vector<double> seconds;
  for (int r = 0; r < reps; ++r) {
    const Clock::time_point start = Clock::now();
    if (!(*opt)->Step().ok()) std::exit(1);
    seconds.push_back(Seconds(start));
  }
  return seconds;
}

TorchTimes RunTorch(const Flags& flags, std::size_t params) {
  return RunTorchPeer(flags.python + " " + flags.torch_script + " " + std::to_string(params) + " " +
                      std::to_string(flags.reps));
}

// --device, read alone: it picks the benchmark, and each one has flags of its own.
std::string Device(int argc, char** argv) {
  CLI::App probe;
  probe.set_help_flag();
  probe.allow_extras();
  std::string device = "cpu";
  probe.add_option("--device", device)->take_last();
  try {
    probe.parse(argc, argv);
  } catch (const CLI::ParseError&) {
    // The benchmark's own parse reports it.
  }
  return device;
}

Summary Milliseconds(Summary s) {
  s.median *= 1e3;
  s.min *= 1e3;
  s.max *= 1e3;
  return s;
}

std::string Ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", seconds * 1e3);
  return buf;
}

}  // namespace

TorchTimes RunTorchPeer(const std::string& command) {
  TorchTimes out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char impl[32], layout[32];
  int threads = 0;
  std::size_t n = 0;
  double seconds = 0;
  while (std::fscanf(pipe, " torch %31s %31s %d %zu %lf", impl, layout, &threads, &n, &seconds) ==
         5) {
    out[{impl, layout, threads, n}] = seconds;
  }
  if (pclose(pipe) != 0) std::fprintf(stderr, "train-bench optim: `%s` failed\n", command.c_str());
  return out;
}

int RunOptimBench(int argc, char** argv) {
  if (Device(argc, argv) == "cuda") {
#ifdef BENCH_WITH_CUDA
    return RunOptimBenchCuda(argc, argv);
#else
    std::fprintf(stderr, "train-bench optim: --device cuda: this build has no CUDA\n");
    return 1;
#endif
  }
  Flags flags;
  CLI::App app(
      "The fused CPU AdamW against memory bandwidth measured in the same run (a STREAM triad over\n"
      "three 1 GiB arrays, 1 and 2 threads) and against torch.optim.AdamW (foreach and the\n"
      "default loop, run by --torch-script under --python): 10M and 100M float32 parameters, in 1\n"
      "tensor and in 100, on 1 and 2 threads. Prints ms per step, median [min, max] of --reps,\n"
      "GB/s at 28 bytes per parameter, and the ratios to the triad and to torch.",
      "train-bench optim");
  app.footer(R"(
With --device cuda it times the CUDA fused optimizers instead, with flags of their own:
  train-bench optim --device cuda --help    (CUDA builds)

Run it from the source tree, or give --torch-script. Exit status: 0 when done (torch's columns
read 0.0 when the peer failed, which is reported on stderr), 1 when a step failed, 2 on bad
flags.)");
  std::string device = "cpu";
  app.add_option("--device", device, "cpu: this benchmark; cuda: the CUDA one (see below)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--reps", flags.reps, "timed repetitions of every measurement")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--python", flags.python, "Python with torch, for the torch peer")
      ->capture_default_str();
  app.add_option("--torch-script", flags.torch_script, "the torch peer (optim_torch.py)")
      ->capture_default_str();
  if (auto exit = ParseCommandLine(app, argc, argv)) return *exit;
  std::map<int, Summary> triad;
  for (int threads : {1, 2}) triad[threads] = Summarize(Triad(threads, flags.reps));
  std::printf("| STREAM triad, 3 x 1 GiB | threads | GB/s |\n|---|---|---|\n");
  for (const auto& [threads, s] : triad) {
    std::printf("| | %d | %s |\n", threads, Cell(s, 1).c_str());
  }
  std::printf(
      "\n| params | tensors | threads | fused AdamW ms/step | GB/s (28 B/param) | of triad | "
      "torch foreach flat / 100 ms | torch default flat / 100 ms | vs torch flat | vs torch "
      "best |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t params : {std::size_t{10'000'000}, std::size_t{100'000'000}}) {
    const TorchTimes torch = RunTorch(flags, params);
    auto t = [&](const char* impl, const char* layout, int threads) {
      auto it = torch.find({impl, layout, threads, params});
      return it == torch.end() ? 0.0 : it->second;
    };
    for (int tensors : {1, 100}) {
      for (int threads : {1, 2}) {
        const Summary s = Summarize(FusedAdamW(params, tensors, threads, flags.reps));
        const double gbps = 28.0 * params / s.median / 1e9;
        double best = 0;
        for (const char* impl : {"foreach", "default"}) {
          for (const char* layout : {"flat", "100"}) {
            const double v = t(impl, layout, threads);
            if (v > 0 && (best == 0 || v < best)) best = v;
          }
        }
        const double flat = t("default", "flat", threads);
        std::printf("| %zuM | %d | %d | %s | %.1f | %.0f%% | %s / %s | %s / %s | %.1fx | %.1fx |\n",
                    params / 1'000'000, tensors, threads, Cell(Milliseconds(s), 1).c_str(), gbps,
                    100.0 * gbps / triad[threads].median, Ms(t("foreach", "flat", threads)).c_str(),
                    Ms(t("foreach", "100", threads)).c_str(), Ms(flat).c_str(),
                    Ms(t("default", "100", threads)).c_str(), flat / s.median, best / s.median);
      }
    }
  }
  return 0;
}

}  // namespace bench
