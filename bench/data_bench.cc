#include "data_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "summary.h"
#include "train/dataset.h"
#include "train/sampler.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string file;
  std::size_t batch = 256;
  int epochs = 2;
  int reps = 5;
  std::uint64_t sampler_positions = 100'000'000;
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::unique_ptr<train::Dataset> OpenOrDie(const std::string& path) {
  auto dataset = train::Dataset::Open(path);
  if (!dataset.ok()) {
    std::fprintf(stderr, "train-bench data: %s\n", dataset.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(dataset).value();
}

// Reads every batch; returns the seconds taken. Stops the program on a read error.
double ReadBatches(train::Dataset& dataset,
                   const std::vector<std::vector<std::uint64_t>>& batches) {
  const Clock::time_point start = Clock::now();
  for (const std::vector<std::uint64_t>& batch : batches) {
    train::Result<train::Batch> read = dataset.Read(batch);
    if (!read.ok()) {
      std::fprintf(stderr, "train-bench data: %s\n", read.status().ToString().c_str());
      std::exit(1);
    }
  }
  return Seconds(start);
}

std::vector<std::vector<std::uint64_t>> SequentialBatches(std::uint64_t rows, std::size_t batch) {
  std::vector<std::vector<std::uint64_t>> batches;
  for (std::uint64_t first = 0; first < rows; first += batch) {
    std::vector<std::uint64_t>& b = batches.emplace_back();
    for (std::uint64_t r = first; r < std::min<std::uint64_t>(first + batch, rows); ++r) {
      b.push_back(r);
    }
  }
  return batches;
}

// One epoch's batches for rank 0 of 1, made before the timing starts.
std::vector<std::vector<std::uint64_t>> EpochBatches(train::ShardedSampler& sampler,
                                                     std::size_t batch) {
  std::vector<std::vector<std::uint64_t>> batches;
  while (!sampler.epoch_done()) batches.push_back(sampler.NextBatch(batch));
  return batches;
}

struct Row {
  std::string read, pass;
  Summary rows_per_s, mb_per_s;
};

void PrintRow(const Row& row, const Summary& baseline) {
  std::printf("  %-11s %-15s %30s %24s %9s\n", row.read.c_str(), row.pass.c_str(),
              Cell(row.rows_per_s, 0).c_str(), Cell(row.mb_per_s, 1).c_str(),
              Ratio(baseline, row.rows_per_s).c_str());
}

// Rows/s and MB/s of `seconds` samples over `rows` rows of `row_bytes` bytes.
Row Rates(std::string read, std::string pass, const std::vector<double>& seconds,
          std::uint64_t rows, std::size_t row_bytes) {
  std::vector<double> rows_per_s, mb_per_s;
  for (double s : seconds) {
    rows_per_s.push_back(static_cast<double>(rows) / s);
    mb_per_s.push_back(static_cast<double>(rows * row_bytes) / s / 1e6);
  }
  return {std::move(read), std::move(pass), Summarize(rows_per_s), Summarize(mb_per_s)};
}

void RunReads(const Flags& flags) {
  auto probe = OpenOrDie(flags.file);
  const std::uint64_t n = probe->size();
  std::size_t row_bytes = 0;
  for (const train::FieldInfo& field : probe->fields()) {
    std::uint64_t bytes = train::DTypeSize(field.dtype);
    for (std::size_t d = 1; d < field.shape.size(); ++d) bytes *= field.shape[d];
    row_bytes += bytes;
  }
  probe.reset();
  const auto sequential = SequentialBatches(n, flags.batch);
  std::vector<double> seq_cold, seq_warm;
  std::vector<std::vector<double>> shuffled(flags.epochs);
  for (int rep = 0; rep < flags.reps; ++rep) {
    std::fprintf(stderr, "rep %d/%d\n", rep + 1, flags.reps);
    auto dataset = OpenOrDie(flags.file);
    seq_cold.push_back(ReadBatches(*dataset, sequential));
    seq_warm.push_back(ReadBatches(*dataset, sequential));
    dataset = OpenOrDie(flags.file);
    train::SamplerOptions options;
    options.num_samples = n;
    options.seed = static_cast<std::uint64_t>(rep) + 1;
    auto sampler = train::ShardedSampler::Create(options, 0, 1);
    if (!sampler.ok()) std::exit(1);
    for (int epoch = 0; epoch < flags.epochs; ++epoch) {
      const auto batches = EpochBatches(*sampler, flags.batch);
      shuffled[epoch].push_back(ReadBatches(*dataset, batches));
      sampler->StartNextEpoch();
    }
  }
  std::printf("# train-bench data: %s, %llu rows of %zu B, batch %zu, %d reps: median [min, max]\n",
              flags.file.c_str(), static_cast<unsigned long long>(n), row_bytes, flags.batch,
              flags.reps);
  std::printf("  %-11s %-15s %30s %24s %9s\n", "read", "pass", "rows/s", "MB/s", "vs seq");
  const Row cold = Rates("sequential", "cold", seq_cold, n, row_bytes);
  const Row warm = Rates("sequential", "warm", seq_warm, n, row_bytes);
  PrintRow(cold, cold.rows_per_s);
  PrintRow(warm, cold.rows_per_s);
  for (int epoch = 0; epoch < flags.epochs; ++epoch) {
    const Row row =
        Rates("shuffled", "epoch " + std::to_string(epoch + 1) + (epoch == 0 ? " (cold)" : ""),
              shuffled[epoch], n, row_bytes);
    PrintRow(row, epoch == 0 ? cold.rows_per_s : warm.rows_per_s);
  }
  std::printf("# vs seq: shuffled epoch 1 against sequential cold, later epochs against warm\n");
}

// Indices per second of the sampler, one thread; the sum keeps the work from being dropped.
void RunSampler(const Flags& flags) {
  std::vector<double> permutation, next_batch;
  std::uint64_t sink = 0;
  const std::uint64_t n = flags.sampler_positions;
  for (int rep = 0; rep < flags.reps; ++rep) {
    const train::Permutation order(n, static_cast<std::uint64_t>(rep) + 1, 0, true);
    Clock::time_point start = Clock::now();
    for (std::uint64_t p = 0; p < n; ++p) sink += order(p);
    permutation.push_back(static_cast<double>(n) / Seconds(start) / 1e6);

    train::SamplerOptions options;
    options.num_samples = n;
    options.seed = static_cast<std::uint64_t>(rep) + 1;
    auto sampler = train::ShardedSampler::Create(options, 0, 1);
    if (!sampler.ok()) std::exit(1);
    start = Clock::now();
    while (!sampler->epoch_done()) {
      const std::vector<std::uint64_t> batch = sampler->NextBatch(flags.batch);
      sink += batch.front();
    }
    next_batch.push_back(static_cast<double>(n) / Seconds(start) / 1e6);
  }
  std::printf("# sampler: %llu positions, one thread, %d reps: median [min, max] (checksum %llu)\n",
              static_cast<unsigned long long>(n), flags.reps,
              static_cast<unsigned long long>(sink));
  std::printf("  %-32s %30s %10s\n", "call", "M indices/s", "ns/index");
  const Summary p = Summarize(permutation), b = Summarize(next_batch);
  std::printf("  %-32s %30s %10.2f\n", "Permutation::operator()", Cell(p, 1).c_str(),
              1e3 / p.median);
  const std::string batch_call = "ShardedSampler::NextBatch(" + std::to_string(flags.batch) + ")";
  std::printf("  %-32s %30s %10.2f\n", batch_call.c_str(), Cell(b, 1).c_str(), 1e3 / b.median);
}

}  // namespace

int RunDataBench(int argc, char** argv) {
  Flags flags;
  CLI::App app(
      "Reads an HDF5 dataset in batches: sequentially (cold, then warm), then in the sampler's\n"
      "shuffled order for --epochs epochs (the first cold), and prints rows/s and MB/s against\n"
      "the sequential read. Then times the sampler alone: train::Permutation and\n"
      "ShardedSampler::NextBatch, in indices per second on one thread.",
      "train-bench data");
  app.footer(R"(
Make the file with e.g.
  trainctl data import idx --images train-images-idx3-ubyte.gz \
      --labels train-labels-idx1-ubyte.gz -o fashion-mnist.h5

Example:
  train-bench data --file /tmp/fashion-mnist.h5

Progress goes to stderr, the tables to stdout. Exit status: 0 when done, 1 when the file cannot
be read, 2 on bad flags.)");
  app.add_option("--file", flags.file, "HDF5 file to read (as trainctl data import writes it)")
      ->required();
  app.add_option("--batch", flags.batch, "rows per batch, in the reads and in NextBatch")
      ->check(Positive<std::size_t>())
      ->capture_default_str();
  app.add_option("--epochs", flags.epochs, "shuffled epochs read per repetition")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--reps", flags.reps,
                 "repetitions of every measurement (each shuffled with its own seed)")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--sampler-positions", flags.sampler_positions,
                 "dataset size the sampler alone is timed on")
      ->check(Positive<std::uint64_t>())
      ->capture_default_str();
  if (auto exit = ParseCommandLine(app, argc, argv)) return *exit;
  RunReads(flags);
  RunSampler(flags);
  return 0;
}

}  // namespace bench
