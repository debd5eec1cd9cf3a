#include "allreduce_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "allreduce_bound.h"
#include "allreduce_data.h"
#include "allreduce_memory.h"
#include "allreduce_table.h"
#include "summary.h"
#include "train/communicator.h"
#include "train/worker.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "usage: trainctl run --nproc N -- train-bench allreduce [--sizes 4K:256M | --sizes 4K,64M]\n"
    "         [--dtype float32] [--op sum] [--iters 20] [--warmup 5]\n"
    "         [--backend auto|cpu|mpi|nccl] [--deterministic] [--check] [--chunk-bytes B]\n"
    "         [--stream-gbps G] [--copy-mib 256]\n"
    "  Every rank all-reduces each size (out of place); rank 0 prints the table. Without\n"
    "  --stream-gbps, rank 0 first measures a 2-thread copy of --copy-mib MiB for the bound.\n";

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

bool ParseFlags(int argc, char** argv, Flags* flags, std::string* error) {
  std::string sizes = "4K:256M";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--deterministic") {
      flags->deterministic = true;
      continue;
    }
    if (flag == "--check") {
      flags->check = true;
      continue;
    }
    if (i + 1 >= argc) {
      *error = flag + " needs a value (or is unknown)";
      return false;
    }
    const std::string value = argv[++i];
    if (flag == "--sizes") {
      sizes = value;
    } else if (flag == "--dtype") {
      auto dtype = train::ParseDType(value);
      if (!dtype.ok()) {
        *error = dtype.status().message();
        return false;
      }
      flags->dtype = *dtype;
    } else if (flag == "--op") {
      if (!ParseReduceOp(value, &flags->op)) {
        *error = "--op " + value + ": use sum, avg, min, max or prod";
        return false;
      }
    } else if (flag == "--iters") {
      flags->iters = std::atoi(value.c_str());
    } else if (flag == "--warmup") {
      flags->warmup = std::atoi(value.c_str());
    } else if (flag == "--backend") {
      auto backend = train::ParseCommBackend(value);
      if (!backend.ok()) {
        *error = backend.status().message();
        return false;
      }
      flags->backend = *backend;
    } else if (flag == "--chunk-bytes") {
      flags->chunk_bytes = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--stream-gbps") {
      flags->stream_gbps = std::atof(value.c_str());
    } else if (flag == "--copy-mib") {
      flags->copy_mib = std::strtoull(value.c_str(), nullptr, 10);
    } else {
      *error = "unknown flag " + flag;
      return false;
    }
  }
  if (flags->iters < 1 || flags->warmup < 0 || flags->copy_mib < 1) {
    *error = "--iters must be >= 1, --warmup >= 0, --copy-mib >= 1";
    return false;
  }
  return ParseSizes(sizes, &flags->sizes, error);
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
  std::string error;
  if (!ParseFlags(argc, argv, &flags, &error)) {
    std::fprintf(stderr, "train-bench allreduce: %s\n%s", error.c_str(), kUsage);
    return 2;
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
