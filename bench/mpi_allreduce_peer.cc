// bench_mpi_allreduce: MPI_Allreduce timed as `train-bench allreduce` times the Communicator's
// (same sizes, data, barrier before each iteration, median of the slowest rank), printing the
// same table. Run under mpirun; bench/allreduce.sh runs it beside train-bench.
//
//   mpirun -np N bench_mpi_allreduce [--sizes 4K:256M] [--dtype float32] [--op sum]
//       [--iters 20] [--warmup 5] [--check] [--stream-gbps G]
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "allreduce_data.h"
#include "allreduce_table.h"
#include "cli.h"
#include "summary.h"

namespace bench {
namespace {

struct Flags {
  std::vector<std::uint64_t> sizes;
  train::DType dtype = train::DType::kFloat32;
  std::string dtype_name = "float32";
  train::ReduceOp op = train::ReduceOp::kSum;
  std::string op_name = "sum";
  int iters = 20;
  int warmup = 5;
  bool check = false;
  double stream_gbps = 0;
};

// MPI has no standard 16-bit float type and no average.
bool MpiType(train::DType dtype, MPI_Datatype* type) {
  switch (dtype) {
    case train::DType::kFloat32:
      *type = MPI_FLOAT;
      return true;
    case train::DType::kFloat64:
      *type = MPI_DOUBLE;
      return true;
    case train::DType::kInt32:
      *type = MPI_INT32_T;
      return true;
    case train::DType::kInt64:
      *type = MPI_INT64_T;
      return true;
    case train::DType::kUInt8:
      *type = MPI_UINT8_T;
      return true;
    default:
      return false;
  }
}

// The flags, read with CLI11; nullopt to go on, else the exit code. Only rank 0 prints.
std::optional<int> ParseFlags(int argc, char** argv, int rank, Flags* flags) {
  const struct {
    const char* name;
    train::DType dtype;
  } dtypes[] = {{"float32", train::DType::kFloat32},
                {"float64", train::DType::kFloat64},
                {"int32", train::DType::kInt32},
                {"int64", train::DType::kInt64},
                {"uint8", train::DType::kUInt8}};
  const struct {
    const char* name;
    train::ReduceOp op;
  } ops[] = {{"sum", train::ReduceOp::kSum},
             {"min", train::ReduceOp::kMin},
             {"max", train::ReduceOp::kMax},
             {"prod", train::ReduceOp::kProd}};
  CLI::App app(
      "Open MPI's MPI_Allreduce timed as `train-bench allreduce` times the communicator's: the\n"
      "same sizes and data, a barrier before each of --iters all-reduces (out of place) after\n"
      "--warmup, the median of the slowest rank's time; rank 0 prints the same nccl-tests table\n"
      "(with the memory bound when --stream-gbps is given). Run under mpirun.",
      "bench_mpi_allreduce");
  app.footer(R"(
Examples:
  mpirun -np 2 bench_mpi_allreduce --sizes 4K:256M --check
  bench/allreduce.sh 2 4K:256M    # beside train-bench allreduce and Gloo, the same flags

Exit status: 0 when done, 2 on bad flags.)");
  std::string sizes = "4K:256M", ignored;
  app.add_option("--sizes", sizes,
                 "bytes per all-reduce: FROM:TO doubles from FROM to TO, or a list like "
                 "4K,64M,1000 (K, M, G: powers of 1024); sizes below one element are skipped")
      ->capture_default_str();
  app.add_option("--dtype", flags->dtype_name,
                 "element type: float32, float64, int32, int64 or uint8 (MPI has no standard "
                 "16-bit float)")
      ->capture_default_str();
  app.add_option("--op", flags->op_name, "reduction: sum, min, max or prod (MPI has no average)")
      ->capture_default_str();
  app.add_option("--iters", flags->iters, "timed all-reduces per size")
      ->check(Positive<int>())
      ->capture_default_str();
  app.add_option("--warmup", flags->warmup, "untimed all-reduces per size before them")
      ->check(NonNegative<int>())
      ->capture_default_str();
  app.add_flag("--check", flags->check, "count the wrong elements of every result (#wrong)");
  app.add_option("--stream-gbps", flags->stream_gbps,
                 "memory bandwidth for the bound, GB/s (0: no bound)")
      ->capture_default_str();
  app.add_option("--backend", ignored, "ignored: train-bench allreduce's");
  app.add_option("--chunk-bytes", ignored, "ignored: train-bench allreduce's");
  return ParseCommandLine(
      app, argc, argv,
      [&] {
        auto dtype = std::find_if(std::begin(dtypes), std::end(dtypes),
                                  [&](const auto& d) { return flags->dtype_name == d.name; });
        if (dtype == std::end(dtypes)) {
          throw CLI::ValidationError("--dtype " + flags->dtype_name +
                                     ": MPI takes float32, float64, int32, int64 or uint8");
        }
        flags->dtype = dtype->dtype;
        auto op = std::find_if(std::begin(ops), std::end(ops),
                               [&](const auto& o) { return flags->op_name == o.name; });
        if (op == std::end(ops)) {
          throw CLI::ValidationError("--op " + flags->op_name +
                                     ": MPI takes sum, min, max or prod");
        }
        flags->op = op->op;
        std::string error;
        if (!ParseSizes(sizes, &flags->sizes, &error)) throw CLI::ValidationError(error);
      },
      rank == 0);
}

MPI_Op MpiOp(train::ReduceOp op) {
  switch (op) {
    case train::ReduceOp::kMin:
      return MPI_MIN;
    case train::ReduceOp::kMax:
      return MPI_MAX;
    case train::ReduceOp::kProd:
      return MPI_PROD;
    default:
      return MPI_SUM;
  }
}

std::string MpiVersion() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string text(version, length);
  const std::size_t comma = text.find(',');  // "Open MPI v4.1.4, package: ..."
  return comma == std::string::npos ? text : text.substr(0, comma);
}

int Run(int argc, char** argv) {
  int rank = 0, world = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  Flags flags;
  if (auto exit = ParseFlags(argc, argv, rank, &flags)) return *exit;
  MPI_Datatype type = MPI_FLOAT;
  MpiType(flags.dtype, &type);
  const std::size_t element = train::DTypeSize(flags.dtype);

  AllreduceTableSetup setup;
  setup.program = "bench_mpi_allreduce";
  setup.backend = MpiVersion();
  setup.world_size = world;
  setup.iters = flags.iters;
  setup.warmup = flags.warmup;
  setup.copy_gbps = flags.stream_gbps;
  setup.copy_source = "--stream-gbps";

  const std::uint64_t largest = *std::max_element(flags.sizes.begin(), flags.sizes.end());
  std::vector<std::byte> in(largest), out(largest);
  FillAllreduceInput(flags.dtype, rank, in.data(), largest / element);
  if (rank == 0) PrintAllreduceHeader(setup);
  for (std::uint64_t bytes : flags.sizes) {
    const int count = static_cast<int>(bytes / element);
    if (count == 0) continue;
    for (int i = 0; i < flags.warmup; ++i) {
      MPI_Allreduce(in.data(), out.data(), count, type, MpiOp(flags.op), MPI_COMM_WORLD);
    }
    std::vector<double> seconds(flags.iters);
    for (double& s : seconds) {
      MPI_Barrier(MPI_COMM_WORLD);
      const double start = MPI_Wtime();
      MPI_Allreduce(in.data(), out.data(), count, type, MpiOp(flags.op), MPI_COMM_WORLD);
      s = MPI_Wtime() - start;
    }
    MPI_Allreduce(MPI_IN_PLACE, seconds.data(), flags.iters, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    AllreduceRow row;
    row.bytes = count * element;
    row.count = count;
    row.type = flags.dtype_name;
    row.redop = flags.op_name;
    row.median_seconds = Summarize(seconds).median;
    if (flags.check) {
      long long wrong = static_cast<long long>(
          CountWrongElements(flags.dtype, flags.op, world, out.data(), count));
      MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
      row.wrong = wrong;
    }
    if (rank == 0) PrintAllreduceRow(setup, row);
  }
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int code = bench::Run(argc, argv);
  MPI_Finalize();
  return code;
}
