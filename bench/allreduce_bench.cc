#include "allreduce_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "allreduce_bound.h"
#include "allreduce_data.h"
#include "allreduce_memory.h"
#include "allreduce_table.h"
#include "cli.h"
#include "summary.h"
#include "train/communicator.h"
#include "train/worker.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::vector<std::uint64_t> sizes;
  train::DType dtype = train::DType::kFloat32;
  train::ReduceOp op = train::ReduceOp::kSum;
  int iters = 20;
  int warmup = 5;
  train::CommBackend backend = train::CommBackend::kAuto;
  bool deterministic = false;
  bool check = false;
  std::size_t chunk_bytes = 0;
  double stream_gbps = 0;
  std::size_t copy_mib = 256;
};

bool ParseReduceOp(const std::string& name, train::ReduceOp* op) {
  for (train::ReduceOp o : {train::ReduceOp::kSum, train::ReduceOp::kAvg, train::ReduceOp::kMin,
                            train::ReduceOp::kMax, train::ReduceOp::kProd}) {
    if (train::ReduceOpName(o) == name) {
      *op = o;
      return true;
    }
  }
  return false;
}

// One size's all-reduces on every rank, in `memory`: inputs, outputs, and the scratch that
// carries timings and error counts between ranks.
class Sweep {
 public:
  Sweep(const Flags& flags, train::Communicator& comm, AllreduceMemory& memory,
        std::uint64_t largest)
      : flags_(flags), comm_(comm), memory_(memory) {
    in_ = memory.Allocate(largest);
    out_ = memory.Allocate(largest);
    scratch_ = memory.Allocate(std::max<std::size_t>(flags.iters, 1) * sizeof(double));
    // Every size's input is a prefix of the largest one's.
    std::vector<std::byte> input(largest);
    FillAllreduceInput(flags.dtype, comm.rank(), input.data(),
                       largest / train::DTypeSize(flags.dtype));
    memory.Upload(in_, input.data(), largest);
  }

  // Times one size on every rank; the row as rank 0 prints it.
  train::Result<AllreduceRow> Run(std::uint64_t bytes) {
    const std::size_t element = train::DTypeSize(flags_.dtype);
    const train::TensorView input = View(in_, flags_.dtype, bytes / element);
    const train::TensorView output = View(out_, flags_.dtype, bytes / element);
    for (int i = 0; i < flags_.warmup; ++i) {
      TRAIN_RETURN_IF_ERROR(comm_.AllReduce(input, output, flags_.op)->Wait());
    }
    std::vector<double> seconds(flags_.iters);
    for (double& s : seconds) {
      TRAIN_RETURN_IF_ERROR(comm_.Barrier()->Wait());
      const Clock::time_point start = Clock::now();
      TRAIN_RETURN_IF_ERROR(comm_.AllReduce(input, output, flags_.op)->Wait());
      s = std::chrono::duration<double>(Clock::now() - start).count();
    }
    // Each iteration took as long as its slowest rank.
    TRAIN_RETURN_IF_ERROR(
        Reduce(seconds.data(), train::DType::kFloat64, seconds.size(), train::ReduceOp::kMax));
    AllreduceRow row;
    row.bytes = input.numel * element;
    row.count = input.numel;
    row.type = std::string(train::DTypeName(flags_.dtype));
    row.redop = std::string(train::ReduceOpName(flags_.op));
    row.median_seconds = Summarize(seconds).median;
    if (flags_.check) {
      std::vector<std::byte> result(row.bytes);
      memory_.Download(result.data(), out_, row.bytes);
      std::int64_t wrong = static_cast<std::int64_t>(CountWrongElements(
          flags_.dtype, flags_.op, comm_.world_size(), result.data(), output.numel));
      TRAIN_RETURN_IF_ERROR(Reduce(&wrong, train::DType::kInt64, 1, train::ReduceOp::kSum));
      row.wrong = wrong;
    }
    return row;
  }

 private:
  train::TensorView View(void* data, train::DType dtype, std::uint64_t numel) const {
    return {data, dtype, numel, memory_.device(), memory_.device_index()};
  }

  // All-reduces `count` host values through the scratch buffer, in place.
  train::Status Reduce(void* host, train::DType dtype, std::uint64_t count, train::ReduceOp op) {
    const std::uint64_t bytes = count * train::DTypeSize(dtype);
    memory_.Upload(scratch_, host, bytes);
    TRAIN_RETURN_IF_ERROR(comm_.AllReduce(View(scratch_, dtype, count), op)->Wait());
    memory_.Download(host, scratch_, bytes);
    return train::Status::Ok();
  }

  const Flags& flags_;
  train::Communicator& comm_;
  AllreduceMemory& memory_;
  void* in_ = nullptr;
  void* out_ = nullptr;
  void* scratch_ = nullptr;
};

int Fail(const std::string& what, const train::Status& status) {
  std::fprintf(stderr, "train-bench allreduce: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

}  // namespace

int RunAllreduceBench(int argc, char** argv) {
  Flags flags;
  CLI::App app(
      "The communicator's all-reduce over a sweep of sizes, run by every rank of a job: each rank\n"
      "all-reduces each size (out of place) --iters times after --warmup, with a barrier before\n"
      "each; rank 0 prints an nccl-tests table (time as the median of the slowest rank's, algbw,\n"
      "busbw, #wrong) beside the memory-bandwidth bound. Without --stream-gbps, rank 0 first\n"
      "measures a 2-thread copy of --copy-mib MiB for the bound.",
      "train-bench allreduce");
  app.footer(R"(
Examples:
  trainctl run --nproc 2 -- train-bench allreduce --sizes 4K:256M --check
  trainctl run --nproc 4 -- train-bench allreduce --sizes 4K,64M --dtype bfloat16 --op avg
  bench/allreduce.sh 2 4K:256M    # beside MPI and Gloo, the same table

Exit status: 0 when done, 1 when joining the job or an all-reduce failed, 2 on bad flags.)");
  std::string sizes = "4K:256M";
  std::string dtype(train::DTypeName(flags.dtype));
  std::string op(train::ReduceOpName(flags.op));
  std::string backend(train::CommBackendName(flags.backend));
  app.add_option("--sizes", sizes,
                 "bytes per all-reduce: FROM:TO doubles from FROM to TO, or a list like "
                 "4K,64M,1000 (K, M, G: powers of 1024); sizes below one element are skipped")
      ->capture_default_str();
  app.add_option("--dtype", dtype,
                 "element type: float32, float64, float16, bfloat16, int8, uint8, int16, int32 "
                 "or int64")
      ->capture_default_str();
  app.add_option("--op", op, "reduction: sum, avg, min, max or prod")->capture_default_str();
  app.add_option("--iters", flags.iters, "timed all-reduces per size")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--warmup", flags.warmup, "untimed all-reduces per size before them")
      ->check(NonNegative<int>())
      ->capture_default_str();
  app.add_option("--backend", backend,
                 "communicator backend: auto, cpu, mpi or nccl (nccl: buffers on each rank's GPU)")
      ->capture_default_str();
  app.add_flag("--deterministic", flags.deterministic,
               "results bitwise identical whatever the size or chunking (each element reduced in "
               "rank order)");
  app.add_flag("--check", flags.check, "count the wrong elements of every result (#wrong)");
  app.add_option("--chunk-bytes", flags.chunk_bytes,
                 "CPU backend: bytes per pipelined chunk (0: the backend's default)")
      ->capture_default_str();
  app.add_option("--stream-gbps", flags.stream_gbps,
                 "memory bandwidth for the bound, GB/s (0: rank 0 measures a copy)")
      ->capture_default_str();
  app.add_option("--copy-mib", flags.copy_mib, "MiB of each measured copy")
      ->check(Positive<std::size_t>())
      ->capture_default_str();
  if (auto exit = ParseCommandLine(app, argc, argv, [&] {
        auto parsed_dtype = train::ParseDType(dtype);
        if (!parsed_dtype.ok()) {
          throw CLI::ValidationError("--dtype", parsed_dtype.status().message());
        }
        flags.dtype = *parsed_dtype;
        if (!ParseReduceOp(op, &flags.op)) {
          throw CLI::ValidationError("--op " + op + ": use sum, avg, min, max or prod");
        }
        auto parsed_backend = train::ParseCommBackend(backend);
        if (!parsed_backend.ok()) {
          throw CLI::ValidationError("--backend", parsed_backend.status().message());
        }
        flags.backend = *parsed_backend;
        std::string error;
        if (!ParseSizes(sizes, &flags.sizes, &error)) throw CLI::ValidationError(error);
      })) {
    return *exit;
  }
  auto worker = train::Worker::Init();
  if (!worker.ok()) return Fail("joining the job", worker.status());
  const int rank = (*worker)->rank();

  AllreduceTableSetup setup;
  setup.program = "train-bench allreduce";
  setup.world_size = (*worker)->world_size();
  setup.iters = flags.iters;
  setup.warmup = flags.warmup;
  setup.deterministic = flags.deterministic;
  setup.copy_gbps = flags.stream_gbps;
  setup.copy_source = "--stream-gbps";
  if (flags.stream_gbps <= 0 && rank == 0) {
    // Before the communicator exists, while the other ranks sleep in the store's barrier, so
    // nothing else competes for memory.
    // The best of 10, as STREAM reports: on a shared machine the median moves with the load.
    const Summary copy = MeasureCopyGbps(2, flags.copy_mib << 20, 10);
    setup.copy_gbps = copy.max;
    setup.copy_source = "best of 10 2-thread memcpys of " + std::to_string(flags.copy_mib) +
                        " MiB on rank 0; median " + Cell(copy, 1);
  }
  if ((*worker)->store() != nullptr) {
    const train::Status barrier = (*worker)->Barrier();
    if (!barrier.ok()) return Fail("waiting for the other ranks", barrier);
  }

  std::unique_ptr<AllreduceMemory> memory = NewHostMemory();
  if (flags.backend == train::CommBackend::kNccl) {
    auto cuda = NewCudaMemory((*worker)->local_rank());
    if (!cuda.ok()) return Fail("--backend nccl", cuda.status());
    memory = std::move(*cuda);
  }
  train::CommunicatorOptions options;
  options.backend = flags.backend;
  options.device = memory->device();
  options.device_index = memory->device_index();
  options.deterministic = flags.deterministic;
  options.chunk_bytes = flags.chunk_bytes;
  options.name = "bench-allreduce";
  auto comm = train::Communicator::Create(**worker, options);
  if (!comm.ok()) return Fail("creating the communicator", comm.status());
  setup.backend = std::string(train::CommBackendName((*comm)->backend()));

  std::uint64_t largest = 0;
  for (std::uint64_t bytes : flags.sizes) largest = std::max(largest, bytes);
  Sweep sweep(flags, **comm, *memory, largest);
  if (rank == 0) PrintAllreduceHeader(setup);
  for (std::uint64_t bytes : flags.sizes) {
    if (bytes < train::DTypeSize(flags.dtype)) continue;
    auto row = sweep.Run(bytes);
    if (!row.ok()) return Fail("all-reduce of " + std::to_string(bytes) + " bytes", row.status());
    if (rank == 0) PrintAllreduceRow(setup, *row);
  }
  return 0;
}

}  // namespace bench
