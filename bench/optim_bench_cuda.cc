#include "optim_bench_cuda.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"
#include "optim_bench.h"
#include "summary.h"
#include "train/optimizer.h"
#include "train/status.h"

namespace bench {
namespace {

struct Flags {
  int reps = 20;
  int steps = 10;  // optimizer steps per timed sample
  std::string python = "python3";
  std::string torch_script = "bench/optim_torch.py";
  std::vector<std::size_t> params = {10'000'000, 100'000'000};
  std::size_t copy_mib = 1024;
};

bool ParseSizes(const std::string& text, std::vector<std::size_t>* out) {
  out->clear();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const long long n = std::atoll(item.c_str());
    if (n < 100) return false;  // 100 tensors need at least one element each
    out->push_back(static_cast<std::size_t>(n));
  }
  return !out->empty();
}

train::Status Check(cudaError_t error, const std::string& what) {
  if (error == cudaSuccess) return train::Status::Ok();
  std::string message =
      what + ": " + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) + ")";
  if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver) {
    return train::UnavailableError(message + "; --device cuda needs a usable GPU");
  }
  return train::InternalError(message);
}

struct CudaFree {
  void operator()(void* p) const noexcept { cudaFree(p); }
};
using DeviceBuffer = std::unique_ptr<void, CudaFree>;

struct EventDestroy {
  void operator()(cudaEvent_t e) const noexcept { cudaEventDestroy(e); }
};
using Event = std::unique_ptr<CUevent_st, EventDestroy>;

struct StreamDestroy {
  void operator()(cudaStream_t s) const noexcept { cudaStreamDestroy(s); }
};
using Stream = std::unique_ptr<CUstream_st, StreamDestroy>;

// `bytes` of device memory, every byte `fill`: 0x3C makes small positive float32 and bfloat16
// values, so no step is skipped and nothing turns into inf.
train::Result<DeviceBuffer> Allocate(std::size_t bytes, int fill) {
  void* ptr = nullptr;
  TRAIN_RETURN_IF_ERROR(Check(cudaMalloc(&ptr, bytes), "cudaMalloc " + std::to_string(bytes)));
  DeviceBuffer buffer(ptr);
  TRAIN_RETURN_IF_ERROR(Check(cudaMemset(ptr, fill, bytes), "cudaMemset"));
  return buffer;
}

train::Result<Event> MakeEvent() {
  cudaEvent_t event = nullptr;
  TRAIN_RETURN_IF_ERROR(Check(cudaEventCreate(&event), "cudaEventCreate"));
  return Event(event);
}

// Milliseconds between two recorded events, once the second has completed.
train::Result<double> ElapsedMs(const Event& start, const Event& stop) {
  TRAIN_RETURN_IF_ERROR(Check(cudaEventSynchronize(stop.get()), "cudaEventSynchronize"));
  float ms = 0;
  TRAIN_RETURN_IF_ERROR(
      Check(cudaEventElapsedTime(&ms, start.get(), stop.get()), "cudaEventElapsedTime"));
  return static_cast<double>(ms);
}

// Device-to-device copy of `bytes`; GB/s per rep counting the read and the write.
train::Result<std::vector<double>> CopyGbps(std::size_t bytes, int reps) {
  TRAIN_ASSIGN_OR_RETURN(DeviceBuffer src, Allocate(bytes, 0x3C));
  TRAIN_ASSIGN_OR_RETURN(DeviceBuffer dst, Allocate(bytes, 0));
  cudaStream_t raw = nullptr;
  TRAIN_RETURN_IF_ERROR(
      Check(cudaStreamCreateWithFlags(&raw, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"));
  Stream stream(raw);
  TRAIN_ASSIGN_OR_RETURN(Event start, MakeEvent());
  TRAIN_ASSIGN_OR_RETURN(Event stop, MakeEvent());
  std::vector<double> gbps;
  for (int r = 0; r <= reps; ++r) {  // rep 0 warms up and is dropped
    TRAIN_RETURN_IF_ERROR(Check(cudaEventRecord(start.get(), raw), "cudaEventRecord"));
    TRAIN_RETURN_IF_ERROR(Check(
        cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, raw), "memcpy"));
    TRAIN_RETURN_IF_ERROR(Check(cudaEventRecord(stop.get(), raw), "cudaEventRecord"));
    TRAIN_ASSIGN_OR_RETURN(double ms, ElapsedMs(start, stop));
    if (r > 0) gbps.push_back(2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9);
  }
  return gbps;
}

// One optimizer configuration: float32 parameters and gradients, or bfloat16 ones with float32
// master weights.
struct Config {
  std::size_t params = 0;
  int tensors = 1;
  bool bf16 = false;
  train::OptimizerKind kind = train::OptimizerKind::kAdamW;
};

// Seconds per fused step, one sample per rep.
train::Result<std::vector<double>> FusedSteps(const Config& config, const Flags& flags) {
  const std::size_t each = config.params / static_cast<std::size_t>(config.tensors);
  const train::DType dtype = config.bf16 ? train::DType::kBFloat16 : train::DType::kFloat32;
  const std::size_t bytes = each * (config.bf16 ? 2 : 4);
  std::vector<DeviceBuffer> memory;
  train::ParamGroup group;
  for (int i = 0; i < config.tensors; ++i) {
    TRAIN_ASSIGN_OR_RETURN(DeviceBuffer p, Allocate(bytes, 0x3C));
    TRAIN_ASSIGN_OR_RETURN(DeviceBuffer g, Allocate(bytes, 0x3C));
    group.params.push_back({p.get(), dtype, each, train::Device::kCuda, 0});
    group.grads.push_back({g.get(), dtype, each, train::Device::kCuda, 0});
    memory.push_back(std::move(p));
    memory.push_back(std::move(g));
  }
  group.weight_decay = 0.01;
  cudaStream_t raw = nullptr;
  TRAIN_RETURN_IF_ERROR(
      Check(cudaStreamCreateWithFlags(&raw, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"));
  Stream stream(raw);
  train::OptimizerOptions options;
  options.kind = config.kind;
  options.master_weights = config.bf16;
  // Step then only queues work on `stream`, so back-to-back steps between two events there
  // measure the device, not host waits.
  options.capturable = true;
  options.cuda_stream = raw;
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<train::FusedOptimizer> opt,
                         train::FusedOptimizer::Create(options, {group}));
  TRAIN_RETURN_IF_ERROR(opt->Step().status());  // warm: first launches
  TRAIN_ASSIGN_OR_RETURN(Event start, MakeEvent());
  TRAIN_ASSIGN_OR_RETURN(Event stop, MakeEvent());
  std::vector<double> seconds;
  for (int r = 0; r < flags.reps; ++r) {
    TRAIN_RETURN_IF_ERROR(Check(cudaEventRecord(start.get(), raw), "cudaEventRecord"));
    for (int s = 0; s < flags.steps; ++s) TRAIN_RETURN_IF_ERROR(opt->Step().status());
    TRAIN_RETURN_IF_ERROR(Check(cudaEventRecord(stop.get(), raw), "cudaEventRecord"));
    TRAIN_ASSIGN_OR_RETURN(double ms, ElapsedMs(start, stop));
    seconds.push_back(ms * 1e-3 / flags.steps);
  }
  TRAIN_ASSIGN_OR_RETURN(train::StepResult last, opt->LastStepResult());
  if (last.skipped) return train::InternalError("a benchmark step was skipped as inf/nan");
  return seconds;
}

std::string Ms(double seconds) {
  if (seconds <= 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", seconds * 1e3);
  return buf;
}

std::string Times(double reference, double seconds) {
  if (reference <= 0 || seconds <= 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2fx", reference / seconds);
  return buf;
}

Summary Milliseconds(Summary s) {
  s.median *= 1e3;
  s.min *= 1e3;
  s.max *= 1e3;
  return s;
}

int Fail(const train::Status& status) {
  std::fprintf(stderr, "train-bench optim: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int RunOptimBenchCuda(int argc, char** argv) {
  Flags flags;
  CLI::App app(
      "The CUDA fused AdamW against a device-to-device copy measured in the same run (--copy-mib\n"
      "MiB) and against torch.optim.AdamW(fused=True) and (foreach=True), run by --torch-script\n"
      "under --python; float32, and bfloat16 with float32 master weights, in 1 tensor and in 100,\n"
      "for each count of --params; then the fused LAMB. Each sample times --steps back-to-back\n"
      "steps with CUDA events. Prints ms per step, median [min, max] of --reps, GB/s and the\n"
      "ratios to the copy and to torch.",
      "train-bench optim --device cuda");
  app.footer(R"(
Run it from the source tree, or give --torch-script. Exit status: 0 when done (a failed torch
peer is reported on stderr), 1 on a CUDA error (no usable GPU, for one) or a failed step, 2
on bad flags.)");
  std::string device = "cuda";
  std::string params_text = "10000000,100000000";
  app.add_option("--device", device, "cuda: this benchmark (cpu: the CPU one)")
      ->check(CLI::IsMember({"cuda"}))
      ->capture_default_str();
  app.add_option("--reps", flags.reps, "timed samples of every measurement")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--steps", flags.steps, "optimizer steps per timed sample")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--params", params_text,
                 "parameter counts, comma-separated, each at least 100 (each count is also split "
                 "into 100 tensors)")
      ->capture_default_str();
  app.add_option("--copy-mib", flags.copy_mib, "MiB of the device-to-device copy")
      ->check(Positive<std::size_t>())
      ->capture_default_str();
  app.add_option("--python", flags.python, "Python with torch and CUDA, for the torch peer")
      ->capture_default_str();
  app.add_option("--torch-script", flags.torch_script, "the torch peer (optim_torch.py)")
      ->capture_default_str();
  if (auto exit = ParseCommandLine(app, argc, argv, [&] {
        if (!ParseSizes(params_text, &flags.params)) {
          throw CLI::ValidationError("--params " + params_text +
                                     ": want counts like 10000000,100000000, each at least 100");
        }
      })) {
    return *exit;
  }
  const train::Result<std::vector<double>> copy = CopyGbps(flags.copy_mib << 20, flags.reps);
  if (!copy.ok()) return Fail(copy.status());
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) std::printf("device: %s\n\n", prop.name);
  const Summary copy_gbps = Summarize(*copy);
  std::printf("| device-to-device copy, %zu MiB | GB/s (read + write) |\n|---|---|\n",
              flags.copy_mib);
  std::printf("| cudaMemcpyAsync | %s |\n", Cell(copy_gbps, 1).c_str());
  std::printf(
      "\n| params | tensors | dtype | B/param | fused AdamW ms/step | GB/s | of copy | torch "
      "fused flat / 100 ms | torch foreach flat / 100 ms | vs torch fused | vs torch best "
      "|\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t params : flags.params) {
    const TorchTimes torch =
        RunTorchPeer(flags.python + " " + flags.torch_script + " --device cuda " +
                     std::to_string(params) + " " + std::to_string(flags.reps));
    auto t = [&](const char* impl, const char* layout) {
      auto it = torch.find({impl, layout, 0, params});
      return it == torch.end() ? 0.0 : it->second;
    };
    for (bool bf16 : {false, true}) {
      for (int tensors : {1, 100}) {
        const train::Result<std::vector<double>> seconds =
            FusedSteps({params, tensors, bf16, train::OptimizerKind::kAdamW}, flags);
        if (!seconds.ok()) return Fail(seconds.status());
        const Summary s = Summarize(*seconds);
        // fp32: read p, g, m, v and write p, m, v. bf16 + master: read master, g (2 B), m, v and
        // write master, p (2 B), m, v; the bfloat16 parameter itself is not read.
        const double bytes_per_param = 28.0;
        const double gbps = bytes_per_param * static_cast<double>(params) / s.median / 1e9;
        // torch runs float32 only; its row is the reference for the float32 rows.
        const char* layout = tensors == 1 ? "flat" : "100";
        double fused = 0, best = 0;
        if (!bf16) {
          fused = t("fused", layout);
          for (const char* impl : {"fused", "foreach"}) {
            for (const char* l : {"flat", "100"}) {
              const double v = t(impl, l);
              if (v > 0 && (best == 0 || v < best)) best = v;
            }
          }
        }
        std::printf(
            "| %zuM | %d | %s | %.0f | %s | %.1f | %.0f%% | %s / %s | %s / %s | %s | %s |\n",
            params / 1'000'000, tensors, bf16 ? "bf16+master" : "fp32", bytes_per_param,
            Cell(Milliseconds(s), 3).c_str(), gbps, 100.0 * gbps / copy_gbps.median,
            Ms(bf16 ? 0 : t("fused", "flat")).c_str(), Ms(bf16 ? 0 : t("fused", "100")).c_str(),
            Ms(bf16 ? 0 : t("foreach", "flat")).c_str(), Ms(bf16 ? 0 : t("foreach", "100")).c_str(),
            Times(fused, s.median).c_str(), Times(best, s.median).c_str());
        std::fflush(stdout);
      }
    }
  }
  // LAMB: pass 1 reads p, g, m, v and writes m, v; pass 2 reads p, m, v and writes p.
  std::printf(
      "\n| LAMB | params | tensors | dtype | B/param | fused LAMB ms/step | GB/s | of copy "
      "|\n|---|---|---|---|---|---|---|---|\n");
  for (std::size_t params : flags.params) {
    for (int tensors : {1, 100}) {
      const train::Result<std::vector<double>> seconds =
          FusedSteps({params, tensors, false, train::OptimizerKind::kLamb}, flags);
      if (!seconds.ok()) return Fail(seconds.status());
      const Summary s = Summarize(*seconds);
      const double bytes_per_param = 40.0;
      const double gbps = bytes_per_param * static_cast<double>(params) / s.median / 1e9;
      std::printf("| lamb | %zuM | %d | fp32 | %.0f | %s | %.1f | %.0f%% |\n", params / 1'000'000,
                  tensors, bytes_per_param, Cell(Milliseconds(s), 3).c_str(), gbps,
                  100.0 * gbps / copy_gbps.median);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace bench
