#include "allreduce_table.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace bench {
namespace {

bool ParseSize(const std::string& text, std::uint64_t* bytes) {
  if (text.empty()) return false;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return false;
  const std::string suffix(end);
  std::uint64_t scale = 1;
  if (suffix == "K" || suffix == "k") {
    scale = 1ull << 10;
  } else if (suffix == "M" || suffix == "m") {
    scale = 1ull << 20;
  } else if (suffix == "G" || suffix == "g") {
    scale = 1ull << 30;
  } else if (!suffix.empty()) {
    return false;
  }
  *bytes = value * scale;
  return *bytes > 0;
}

// The bound: each rank's input read once and its output written once, 2·n·S bytes through
// memory at the copy bandwidth.
double BoundSeconds(const AllreduceTableSetup& setup, std::uint64_t bytes) {
  return 2.0 * setup.world_size * static_cast<double>(bytes) / (setup.copy_gbps * 1e9);
}

}  // namespace

bool ParseSizes(const std::string& spec, std::vector<std::uint64_t>* sizes, std::string* error) {
  sizes->clear();
  const std::size_t colon = spec.find(':');
  if (colon != std::string::npos) {
    std::uint64_t from = 0, to = 0;
    if (!ParseSize(spec.substr(0, colon), &from) || !ParseSize(spec.substr(colon + 1), &to) ||
        from > to) {
      *error = "--sizes " + spec + ": want FROM:TO with FROM <= TO, like 4K:256M";
      return false;
    }
    for (std::uint64_t s = from; s <= to; s *= 2) sizes->push_back(s);
    return true;
  }
  std::stringstream list(spec);
  std::string item;
  while (std::getline(list, item, ',')) {
    std::uint64_t bytes = 0;
    if (!ParseSize(item, &bytes)) {
      *error = "--sizes " + spec + ": \"" + item + "\" is not a size like 4096, 4K, 64M or 1G";
      return false;
    }
    sizes->push_back(bytes);
  }
  if (sizes->empty()) *error = "--sizes is empty";
  return !sizes->empty();
}

double AllreduceBusFactor(int world_size) {
  return world_size <= 1 ? 0.0 : 2.0 * (world_size - 1) / world_size;
}

void PrintAllreduceHeader(const AllreduceTableSetup& setup) {
  std::printf("# %s: %d ranks, backend %s, out-of-place, %d iters after %d warmup%s\n",
              setup.program.c_str(), setup.world_size, setup.backend.c_str(), setup.iters,
              setup.warmup, setup.deterministic ? ", deterministic" : "");
  std::printf("# time: median over iters of the slowest rank's time; busbw = algbw * 2(n-1)/n\n");
  if (setup.copy_gbps > 0) {
    const int n = setup.world_size;
    std::printf(
        "# memory bound: copy bandwidth %.1f GB/s (%s); 2*n*S bytes per all-reduce, so busbw "
        "<= %.2f GB/s for %d ranks; %%bound = bound time / time\n",
        setup.copy_gbps, setup.copy_source.c_str(),
        setup.copy_gbps / (2.0 * n) * AllreduceBusFactor(n), n);
  }
  std::printf("#\n");
  std::printf("# %12s %12s %9s %6s %11s %8s %8s %8s %7s\n", "size", "count", "type", "redop",
              "time", "algbw", "busbw", "#wrong", "%bound");
  std::printf("# %12s %12s %9s %6s %11s %8s %8s %8s %7s\n", "(B)", "(elements)", "", "", "(us)",
              "(GB/s)", "(GB/s)", "", "");
}

void PrintAllreduceRow(const AllreduceTableSetup& setup, const AllreduceRow& row) {
  const double algbw = static_cast<double>(row.bytes) / row.median_seconds / 1e9;
  const double busbw = algbw * AllreduceBusFactor(setup.world_size);
  char wrong[32] = "-";
  if (row.wrong >= 0) std::snprintf(wrong, sizeof(wrong), "%lld", (long long)row.wrong);
  char bound[32] = "-";
  if (setup.copy_gbps > 0) {
    std::snprintf(bound, sizeof(bound), "%.1f%%",
                  100.0 * BoundSeconds(setup, row.bytes) / row.median_seconds);
  }
  std::printf("  %12llu %12llu %9s %6s %11.1f %8.2f %8.2f %8s %7s\n", (unsigned long long)row.bytes,
              (unsigned long long)row.count, row.type.c_str(), row.redop.c_str(),
              row.median_seconds * 1e6, algbw, busbw, wrong, bound);
  std::fflush(stdout);
}

}  // namespace bench
