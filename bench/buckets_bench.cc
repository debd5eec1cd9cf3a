#include "buckets_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "summary.h"
#include "train/communicator.h"
#include "train/grad_buckets.h"
#include "train/worker.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

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
  CLI::App app(
      "What GradientBuckets' overlap buys, on every rank of a job. A synthetic model of --params\n"
      "float32 parameters: --layers layers, each a weight (sizes vary 1:5) and a 1024-element\n"
      "bias. Backward computes each layer's gradients with --madds multiply-adds per parameter,\n"
      "last layer first. Four modes are timed: backward alone, the bucketed all-reduces alone,\n"
      "backward then the all-reduces, and the buckets issued as backward marks gradients ready\n"
      "(the overlap). Rank 0 prints the step times, each the slowest rank's, and how much of the\n"
      "communication the overlap hid.",
      "train-bench buckets");
  app.footer(R"(
Examples:
  trainctl run --nproc 2 -- train-bench buckets
  trainctl run --nproc 2 -- train-bench buckets --in-bucket --wire bfloat16
  bench/buckets.sh 2 --in-bucket    # beside PyTorch DDP over Gloo

Exit status: 0 when done, 1 when joining the job or a step failed, 2 on bad flags.)");
  std::string params_text = "25M";
  std::string wire(train::WireDTypeName(flags.wire));
  app.add_option("--params", params_text,
                 "float32 parameters in the model: a count such as 25M, 1.5G or 300000 (K, M, G: "
                 "powers of 1000)")
      ->capture_default_str();
  app.add_option("--layers", flags.layers, "layers, each a weight and a bias")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--madds", flags.madds, "multiply-adds per parameter in backward")
      ->check(NonNegative<int>())
      ->capture_default_str();
  app.add_option("--cap-mib", flags.cap_mib, "bucket cap, MiB")
      ->check(Positive<std::size_t>())
      ->capture_default_str();
  app.add_option("--first-cap-mib", flags.first_cap_mib,
                 "cap of the first bucket, MiB (small, so that the first all-reduce starts "
                 "early in backward)")
      ->check(Positive<std::size_t>())
      ->capture_default_str();
  app.add_option("--wire", wire, "dtype on the wire: none (float32), bfloat16 or float16")
      ->capture_default_str();
  app.add_flag("--in-bucket", flags.in_bucket,
               "compute the gradients in their buckets (GradientInBucket): no copies");
  app.add_flag("--tcp", flags.tcp,
               "make every rank a host of its own, so that the all-reduces go over TCP "
               "(loopback here)");
  app.add_option("--iters", flags.iters, "timed steps per mode")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--warmup", flags.warmup, "untimed steps per mode before them")
      ->check(NonNegative<int>())
      ->capture_default_str();
  if (auto exit = ParseCommandLine(app, argc, argv, [&] {
        if (!ParseCount(params_text, &flags.params)) {
          throw CLI::ValidationError("--params " + params_text +
                                     ": a count such as 25M, 1.5G or 300000");
        }
        auto parsed_wire = train::ParseWireDType(wire);
        if (!parsed_wire.ok()) throw CLI::ValidationError("--wire", parsed_wire.status().message());
        flags.wire = *parsed_wire;
      })) {
    return *exit;
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
