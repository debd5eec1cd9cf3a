// bench_mpi_allreduce: MPI_Allreduce timed as `train-bench allreduce` times the Communicator's
// (same sizes, data, barrier before each iteration, median of the slowest rank), printing the
// same table. Run under mpirun; bench/allreduce.sh runs it beside train-bench.
//
//   mpirun -np N bench_mpi_allreduce [--sizes 4K:256M] [--dtype float32] [--op sum]
//       [--iters 20] [--warmup 5] [--check] [--stream-gbps G]
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "allreduce_data.h"
#include "allreduce_table.h"
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

bool ParseFlags(int argc, char** argv, Flags* flags, std::string* error) {
  std::string sizes = "4K:256M";
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
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
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
      auto it = std::find_if(std::begin(dtypes), std::end(dtypes),
                             [&](const auto& d) { return value == d.name; });
      if (it == std::end(dtypes)) {
        *error = "--dtype " + value + ": MPI takes float32, float64, int32, int64 or uint8";
        return false;
      }
      flags->dtype = it->dtype;
      flags->dtype_name = value;
    } else if (flag == "--op") {
      auto it = std::find_if(std::begin(ops), std::end(ops),
                             [&](const auto& o) { return value == o.name; });
      if (it == std::end(ops)) {
        *error = "--op " + value + ": MPI takes sum, min, max or prod";
        return false;
      }
      flags->op = it->op;
      flags->op_name = value;
    } else if (flag == "--iters") {
      flags->iters = std::atoi(value.c_str());
    } else if (flag == "--warmup") {
      flags->warmup = std::atoi(value.c_str());
    } else if (flag == "--stream-gbps") {
      flags->stream_gbps = std::atof(value.c_str());
    } else if (flag != "--backend" && flag != "--chunk-bytes") {  // train-bench's, ignored
      *error = "unknown flag " + flag;
      return false;
    }
  }
  if (flags->iters < 1 || flags->warmup < 0) {
    *error = "--iters must be >= 1 and --warmup >= 0";
    return false;
  }
  return ParseSizes(sizes, &flags->sizes, error);
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
  std::string error;
  if (!ParseFlags(argc, argv, &flags, &error)) {
    if (rank == 0) std::fprintf(stderr, "bench_mpi_allreduce: %s\n", error.c_str());
    return 2;
  }
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
