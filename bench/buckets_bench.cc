#include "buckets_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "summary.h"
#include "train/communicator.h"
#include "train/grad_buckets.h"
#include "train/worker.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "usage: trainctl run --nproc N -- train-bench buckets [--params 25M] [--layers 64]\n"
    "         [--madds 16] [--cap-mib 25] [--first-cap-mib 1] [--wire none|bfloat16|float16]\n"
    "         [--in-bucket] [--tcp] [--iters 10] [--warmup 2]\n"
    "  A synthetic model of --params float32 parameters: --layers layers, each a weight (sizes\n"
    "  vary 1:5) and a 1024-element bias. Backward computes each layer's gradients with\n"
    "  --madds multiply-adds per parameter, last layer first. Four modes are timed: backward\n"
    "  alone, the bucketed all-reduces alone, backward then the all-reduces, and the buckets\n"
    "  issued as backward marks gradients ready (GradientBuckets' overlap). --in-bucket\n"
    "  computes the gradients in their buckets (GradientInBucket): no copies. --tcp makes\n"
    "  every rank a host of its own, so that the all-reduces go over TCP (loopback here).\n";

struct Flags {
  std::uint64_t params = 25'000'000;
  int layers = 64;
  int madds = 16;
  std::size_t cap_mib = 25;
  std::size_t first_cap_mib = 1;
  train::WireDType wire = train::WireDType::kNone;
  bool in_bucket = false;
  bool tcp = false;
  int iters = 10;
  int warmup = 2;
};

bool ParseCount(const std::string& text, std::uint64_t* value) {
  char* end = nullptr;
  double number = std::strtod(text.c_str(), &end);
  const std::string suffix = end;
  if (suffix == "K") number *= 1e3;
  if (suffix == "M") number *= 1e6;
  if (suffix == "G") number *= 1e9;
  if (end == text.c_str() || !(suffix.empty() || suffix == "K" || suffix == "M" || suffix == "G") ||
      number < 1) {
    return false;
  }
  *value = static_cast<std::uint64_t>(number);
  return true;
}

bool ParseFlags(int argc, char** argv, Flags* flags, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--in-bucket" || flag == "--tcp") {
      (flag == "--tcp" ? flags->tcp : flags->in_bucket) = true;
      continue;
    }
    if (i + 1 >= argc) {
      *error = flag + " needs a value (or is unknown)";
      return false;
    }
    const std::string value = argv[++i];
    if (flag == "--params") {
      if (!ParseCount(value, &flags->params)) {
        *error = "--params " + value + ": a count such as 25M, 1.5G or 300000";
        return false;
      }
    } else if (flag == "--layers") {
      flags->layers = std::atoi(value.c_str());
    } else if (flag == "--madds") {
      flags->madds = std::atoi(value.c_str());
    } else if (flag == "--cap-mib") {
      flags->cap_mib = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--first-cap-mib") {
      flags->first_cap_mib = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--wire") {
      auto wire = train::ParseWireDType(value);
      if (!wire.ok()) {
        *error = "--wire: " + wire.status().message();
        return false;
      }
      flags->wire = *wire;
    } else if (flag == "--iters") {
      flags->iters = std::atoi(value.c_str());
    } else if (flag == "--warmup") {
      flags->warmup = std::atoi(value.c_str());
    } else {
      *error = "unknown flag " + flag;
      return false;
    }
  }
  if (flags->layers < 1 || flags->madds < 0 || flags->iters < 1 || flags->warmup < 0 ||
      flags->cap_mib < 1 || flags->first_cap_mib < 1) {
    *error =
        "--layers, --iters, --cap-mib and --first-cap-mib must be >= 1, --madds and "
        "--warmup >= 0";
    return false;
  }
  return true;
}

// One parameter's gradient and the activations its backward reads.
struct Gradient {
  std::string name;
  std::vector<float> input;
  std::vector<float> grad;
  float* out = nullptr;  // where backward writes: grad, or its place in the bucket
};

// The model's gradients in registration (forward) order: per layer a weight then a bias.
std::vector<Gradient> MakeModel(const Flags& flags) {
  constexpr std::uint64_t kBias = 1024;
  std::uint64_t weight_units = 0;
  for (int layer = 0; layer < flags.layers; ++layer) weight_units += 1 + (layer * 7) % 5;
  const std::uint64_t bias_total = kBias * static_cast<std::uint64_t>(flags.layers);
  const std::uint64_t weights = flags.params > bias_total ? flags.params - bias_total : 1;
  std::vector<Gradient> model;
  for (int layer = 0; layer < flags.layers; ++layer) {
    const std::uint64_t units = 1 + (layer * 7) % 5;
    const std::uint64_t size = std::max<std::uint64_t>(weights * units / weight_units, 1);
    for (const auto& [suffix, count] : {std::pair{".weight", size}, std::pair{".bias", kBias}}) {
      Gradient g;
      g.name = "layer" + std::to_string(layer) + suffix;
      g.input.resize(count);
      for (std::uint64_t i = 0; i < count; ++i) g.input[i] = static_cast<float>(i % 97) / 97.0f;
      g.grad.resize(count);
      g.out = g.grad.data();
      model.push_back(std::move(g));
    }
  }
  return model;
}

// The gradient's arithmetic: `madds` dependent multiply-adds per element, in blocks that stay
// in L1 so that the time is the arithmetic's, as a layer's backward mostly is.
void ComputeGradient(Gradient& g, int madds) {
  constexpr std::size_t kBlock = 2048;
  const std::size_t n = g.grad.size();
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t end = std::min(n, start + kBlock);
    float* out = g.out;
    const float* in = g.input.data();
    for (std::size_t i = start; i < end; ++i) out[i] = in[i];
    for (int k = 0; k < madds; ++k) {
      for (std::size_t i = start; i < end; ++i) out[i] = out[i] * 0.999f + 0.001f;
    }
  }
}

enum class Mode { kBackward, kAllReduce, kSequential, kOverlapped };

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kBackward:
      return "backward only";
    case Mode::kAllReduce:
      return "all-reduces only";
    case Mode::kSequential:
      return "backward, then all-reduces";
    case Mode::kOverlapped:
      return "overlapped (buckets during backward)";
  }
  return "?";
}

// One training step's backward and gradient averaging, as `mode` does it.
train::Status Step(Mode mode, std::vector<Gradient>& model, train::GradientBuckets& buckets,
                   int madds) {
  const bool compute = mode != Mode::kAllReduce;
  const bool communicate = mode != Mode::kBackward;
  for (std::size_t i = model.size(); i-- > 0;) {
    if (compute) ComputeGradient(model[i], madds);
    if (mode == Mode::kOverlapped) TRAIN_RETURN_IF_ERROR(buckets.MarkReady(i));
  }
  if (!communicate) return train::Status::Ok();
  if (mode != Mode::kOverlapped) {
    for (std::size_t i = model.size(); i-- > 0;) TRAIN_RETURN_IF_ERROR(buckets.MarkReady(i));
  }
  return buckets.Finish();
}

struct ModeResult {
  Summary step_ms;
  Summary finish_wait_ms;
  double issued_before_finish = 0;  // median
};

// Times `mode` on every rank; each iteration counts as long as its slowest rank took.
train::Result<ModeResult> TimeMode(Mode mode, const Flags& flags, std::vector<Gradient>& model,
                                   train::GradientBuckets& buckets, train::Communicator& comm) {
  for (int i = 0; i < flags.warmup; ++i) {
    TRAIN_RETURN_IF_ERROR(Step(mode, model, buckets, flags.madds));
  }
  std::vector<double> step_ms(flags.iters), wait_ms(flags.iters), in_flight(flags.iters);
  for (int i = 0; i < flags.iters; ++i) {
    TRAIN_RETURN_IF_ERROR(comm.Barrier()->Wait());
    const Clock::time_point start = Clock::now();
    TRAIN_RETURN_IF_ERROR(Step(mode, model, buckets, flags.madds));
    step_ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    const train::GradientBucketStats stats = buckets.stats();
    wait_ms[i] = std::chrono::duration<double, std::milli>(stats.finish_wait).count();
    in_flight[i] = static_cast<double>(stats.issued_before_finish);
  }
  for (std::vector<double>* values : {&step_ms, &wait_ms}) {
    train::TensorView view{values->data(), train::DType::kFloat64, values->size()};
    TRAIN_RETURN_IF_ERROR(comm.AllReduce(view, train::ReduceOp::kMax)->Wait());
  }
  ModeResult result;
  result.step_ms = Summarize(step_ms);
  result.finish_wait_ms = Summarize(wait_ms);
  result.issued_before_finish = Summarize(in_flight).median;
  return result;
}

int Fail(const std::string& what, const train::Status& status) {
  std::fprintf(stderr, "train-bench buckets: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

}  // namespace

int RunBucketsBench(int argc, char** argv) {
  Flags flags;
  std::string error;
  if (!ParseFlags(argc, argv, &flags, &error)) {
    std::fprintf(stderr, "train-bench buckets: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  auto worker = train::Worker::Init();
  if (!worker.ok()) return Fail("joining the job", worker.status());
  train::CommunicatorOptions options;
  options.name = "bench-buckets";
  if (flags.tcp) options.host_id = "rank" + std::to_string((*worker)->rank());
  auto comm = train::Communicator::Create(**worker, options);
  if (!comm.ok()) return Fail("creating the communicator", comm.status());

  std::vector<Gradient> model = MakeModel(flags);
  train::GradientBucketsOptions bucket_options;
  bucket_options.cap_bytes = flags.cap_mib << 20;
  bucket_options.first_cap_bytes = flags.first_cap_mib << 20;
  bucket_options.wire_dtype = flags.wire;
  auto buckets = train::GradientBuckets::Create(comm->get(), bucket_options);
  if (!buckets.ok()) return Fail("creating the buckets", buckets.status());
  std::uint64_t params = 0;
  for (Gradient& g : model) {
    params += g.grad.size();
    auto index =
        (*buckets)->Register(g.name, {g.grad.data(), train::DType::kFloat32, g.grad.size()});
    if (!index.ok()) return Fail("registering " + g.name, index.status());
  }
  const std::size_t bucket_count = (*buckets)->Layout().size();
  if (flags.in_bucket) {
    for (std::size_t i = 0; i < model.size(); ++i) {
      auto view = (*buckets)->GradientInBucket(i);
      if (!view.ok()) return Fail("--in-bucket", view.status());
      model[i].out = static_cast<float*>(view->data);
    }
  }

  const int rank = (*comm)->rank();
  if (rank == 0) {
    std::printf(
        "# train-bench buckets: %d ranks, %s backend, %.1fM float32 parameters in %zu "
        "gradients (%d layers), %zu buckets (cap %zu MiB, first %zu MiB), wire %s%s\n",
        (*comm)->world_size(), std::string(train::CommBackendName((*comm)->backend())).c_str(),
        static_cast<double>(params) / 1e6, model.size(), flags.layers, bucket_count, flags.cap_mib,
        flags.first_cap_mib, std::string(train::WireDTypeName(flags.wire)).c_str(),
        flags.in_bucket ? ", gradients in their buckets" : "");
    if (flags.tcp) std::printf("# --tcp: every rank is a host of its own (TCP)\n");
    std::printf(
        "# backward: %d multiply-adds per parameter; %d iterations after %d warm-up; "
        "ms: median [min, max] over iterations, each the slowest rank's\n",
        flags.madds, flags.iters, flags.warmup);
    std::printf("| mode | step ms | Finish waited ms | buckets in flight at Finish |\n");
    std::printf("|---|---|---|---|\n");
  }
  std::vector<ModeResult> results;
  for (Mode mode : {Mode::kBackward, Mode::kAllReduce, Mode::kSequential, Mode::kOverlapped}) {
    auto result = TimeMode(mode, flags, model, **buckets, **comm);
    if (!result.ok()) return Fail(ModeName(mode), result.status());
    results.push_back(*result);
    if (rank == 0) {
      const bool communicates = mode != Mode::kBackward;
      std::printf("| %s | %s | %s | %s |\n", ModeName(mode), Cell(result->step_ms, 2).c_str(),
                  communicates ? Cell(result->finish_wait_ms, 2).c_str() : "-",
                  communicates ? (std::to_string(static_cast<int>(result->issued_before_finish)) +
                                  " of " + std::to_string(bucket_count))
                                     .c_str()
                               : "-");
    }
  }
  if (rank == 0) {
    const double backward = results[0].step_ms.median;
    const double comm_alone = results[1].step_ms.median;
    const double sequential = results[2].step_ms.median - backward;
    const double overlapped = results[3].step_ms.median - backward;
    std::printf(
        "# communication exposed beyond backward: %.2f ms sequential, %.2f ms "
        "overlapped; the overlap hid %.0f%% of the all-reduces' %.2f ms\n",
        sequential, overlapped,
        comm_alone > 0 ? 100.0 * (sequential - overlapped) / comm_alone : 0.0, comm_alone);
  }
  return 0;
}

}  // namespace bench
